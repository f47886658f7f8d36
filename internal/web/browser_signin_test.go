package web_test

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/oidcop"
)

// TestBrowserSignIn signs in with Chromium at a real OpenID provider,
// typing into its login page, and signs out again. The provider is named
// localhost and Parley 127.0.0.1: two sites, so the redirects between
// them are cross-site as in production and the browser applies its
// SameSite rules to the flow and session cookies.
func TestBrowserSignIn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	op := oidcop.StartHost(t, "localhost", base+auth.CallbackPath, base+"/")
	startServerWith(t, func(c *config.Config) {
		c.Listen, c.PublicURL = addr, base
		c.OIDC.Issuer, c.OIDC.ClientID, c.OIDC.ClientSecret = op.Issuer, op.ClientID, op.ClientSecret
	})
	b := newBrowser(t, "ada", browserOptions{noDevices: true})

	b.navigate(t, base+auth.LoginPath+"?next=/")
	b.do(t, chromedp.WaitVisible(chromedp.CSS("#username")))
	if url := evalJS[string](t, b, "location.href"); !strings.HasPrefix(url, op.Issuer+"/login/") {
		t.Fatalf("login page at %s", url)
	}
	b.do(t, chromedp.SendKeys(chromedp.CSS("#username"), op.Username), chromedp.SendKeys(chromedp.CSS("#password"), oidcop.Password))
	b.click(t, `button[type=submit]`)
	b.waitJS(t, 15*time.Second, "back on Parley's home page", `location.href === `+jsString(base+"/")+` && document.readyState === 'complete'`, `location.href`)

	var s struct {
		Mode auth.Mode
		User *auth.User
		CSRF string
	}
	raw := evalJS[[]byte](t, b, `fetch('/api/session').then(r => r.json())`)
	if err := json.Unmarshal(raw, &s); err != nil || s.Mode != auth.OIDC || s.User == nil ||
		*s.User != (auth.User{Subject: "oidc:" + oidcop.Subject, Name: oidcop.Name, Email: oidcop.Email}) {
		t.Fatalf("session after sign-in: %s (%v)", raw, err)
	}
	// The session cookie is HttpOnly: the page's scripts cannot read it.
	if c := evalJS[string](t, b, "document.cookie"); strings.Contains(c, auth.SessionCookie) {
		t.Fatalf("page scripts see the session cookie: %q", c)
	}

	// Sign out as a page would: POST with the CSRF token, then go where
	// the answer says (the provider's end-session endpoint, which sends
	// the browser back home).
	to := evalJS[string](t, b, `fetch('/auth/logout', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-Parley-CSRF': `+
		jsString(s.CSRF)+`}, body: '{}'}).then(r => r.json()).then(j => j.redirect)`)
	if !strings.HasPrefix(to, op.Issuer+"/end_session?") {
		t.Fatalf("logout redirect %q", to)
	}
	b.navigate(t, to)
	b.waitJS(t, 15*time.Second, "home after the provider's sign-out", `location.href === `+jsString(base+"/"), `location.href`)
	if raw := evalJS[[]byte](t, b, `fetch('/api/session').then(r => r.json()).then(j => j.user)`); string(raw) != "null" {
		t.Fatalf("still signed in after sign-out: %s", raw)
	}
	if p := b.pageProblems(t); len(p) > 0 {
		t.Fatalf("page problems: %v", p)
	}
}
