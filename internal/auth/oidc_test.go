package auth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/testkit/oidcop"
)

// realRig is a relying party signed in against a real provider.
func realRig(t *testing.T) (*rig, *oidcop.Provider) {
	t.Helper()
	ln, base := listen(t)
	op := oidcop.Start(t, base+auth.CallbackPath, base+"/")
	return newRig(t, ln, auth.Config{Issuer: op.Issuer, ClientID: op.ClientID, ClientSecret: op.ClientSecret}), op
}

// signIn goes through the whole sign-in as a browser would: our login
// endpoint, the provider's login form, back to our callback, then to
// next. It returns the page it lands on.
func (g *rig) signIn(op *oidcop.Provider, next string) (*http.Response, string) {
	g.t.Helper()
	page, err := g.client.Get(g.base + auth.LoginPath + "?next=" + url.QueryEscape(next))
	if err != nil {
		g.t.Fatal(err)
	}
	resp, err := oidcop.SubmitLogin(g.client, page, op.Username, oidcop.Password)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestSignInWithRealProvider(t *testing.T) {
	g, op := realRig(t)
	if _, ok := g.me(); ok {
		t.Fatal("signed in before signing in")
	}
	resp, body := g.signIn(op, "/abcdefghijklm?lang=fr")
	if resp.StatusCode != http.StatusOK || body != "page /abcdefghijklm?lang=fr" || resp.Request.URL.Host != strings.TrimPrefix(g.base, "http://") {
		t.Fatalf("landed on %s: %d %q", resp.Request.URL, resp.StatusCode, body)
	}
	u, ok := g.me()
	if !ok || u != (auth.User{Subject: "oidc:" + oidcop.Subject, Name: oidcop.Name, Email: oidcop.Email}) {
		t.Fatalf("signed in as %+v (%v)", u, ok)
	}

	// What went to the provider: code flow with PKCE S256, state, nonce.
	authz := g.rec.last(strings.TrimPrefix(g.base, "http://"), auth.LoginPath)
	to, err := url.Parse(authz.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(to.String(), op.Issuer) {
		t.Fatalf("login redirected to %q", authz.Header.Get("Location"))
	}
	q := to.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": op.ClientID, "redirect_uri": g.base + auth.CallbackPath,
		"scope": "openid profile email", "code_challenge_method": "S256"} {
		if q.Get(k) != want {
			t.Errorf("authorization request %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if len(q.Get("code_challenge")) != 43 || len(q.Get("state")) != 43 || len(q.Get("nonce")) != 43 || q.Has("acr_values") {
		t.Errorf("authorization request: challenge %q, state %q, nonce %q, acr_values %q", q.Get("code_challenge"), q.Get("state"), q.Get("nonce"), q.Get("acr_values"))
	}

	// The session cookie as the callback set it, and the flow cookie gone.
	cb := g.rec.last(strings.TrimPrefix(g.base, "http://"), auth.CallbackPath)
	var sess, flowCleared *http.Cookie
	for _, c := range cb.Cookies() {
		switch c.Name {
		case auth.SessionCookie:
			sess = c
		case auth.FlowCookie:
			flowCleared = c
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.Secure || sess.MaxAge != int((12*time.Hour).Seconds()) {
		t.Fatalf("session cookie %+v", sess)
	}
	if flowCleared == nil || flowCleared.MaxAge >= 0 {
		t.Fatalf("flow cookie not cleared: %+v", flowCleared)
	}
	if _, err := auth.ParseSessionID(sess.Value); !err {
		t.Fatalf("session id %q is not 256 random bits", sess.Value)
	}
	stored, errS := g.store.Session(context.Background(), auth.HashSessionID(sess.Value))
	if errS != nil || stored.User != u || strings.Count(stored.IDToken, ".") != 2 || stored.Expires.Sub(stored.Created) != 12*time.Hour {
		t.Fatalf("stored session %+v, %v", stored, errS)
	}
	if _, err := g.store.Session(context.Background(), sess.Value); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("the raw id found in the store: %v", err)
	}

	// Replaying the callback (same code, same state, the flow cookie put
	// back) is refused: a flow is used once.
	g.setCookie(&http.Cookie{Name: auth.FlowCookie, Value: q.Get("state"), Path: "/auth/"})
	replay, err := g.noFollow().Get(cb.Request.URL.String())
	if err != nil {
		t.Fatal(err)
	}
	replay.Body.Close()
	if replay.StatusCode != http.StatusBadRequest || len(replay.Cookies()) != 1 || replay.Cookies()[0].Name != auth.FlowCookie {
		t.Fatalf("replayed callback: %d, cookies %v", replay.StatusCode, replay.Cookies())
	}
}

func TestLogoutEndsBothSessions(t *testing.T) {
	g, op := realRig(t)
	g.signIn(op, "/")
	c, ok := g.cookie(auth.SessionCookie)
	if !ok {
		t.Fatal("no session cookie")
	}
	stored, err := g.store.Session(context.Background(), auth.HashSessionID(c.Value))
	if err != nil {
		t.Fatal(err)
	}

	// Without the CSRF header: refused, still signed in.
	if status, out := g.logout(false); status != http.StatusForbidden || !strings.Contains(out["error"], "CSRF") {
		t.Fatalf("logout without CSRF token: %d %v", status, out)
	}
	if _, ok := g.me(); !ok {
		t.Fatal("a refused logout signed the user out")
	}

	status, out := g.logout(true)
	if status != http.StatusOK {
		t.Fatalf("logout: %d %v", status, out)
	}
	to, err := url.Parse(out["redirect"])
	if err != nil || to.Scheme+"://"+to.Host != op.Issuer || to.Path != "/end_session" {
		t.Fatalf("logout redirect %q", out["redirect"])
	}
	q := to.Query()
	if q.Get("id_token_hint") != stored.IDToken || q.Get("post_logout_redirect_uri") != g.base+"/" || q.Get("client_id") != op.ClientID {
		t.Fatalf("end-session request %v", q)
	}
	if _, err := g.store.Session(context.Background(), stored.IDHash); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("session still stored after logout: %v", err)
	}
	if _, ok := g.cookie(auth.SessionCookie); ok {
		t.Fatal("session cookie kept after logout")
	}
	if _, ok := g.me(); ok {
		t.Fatal("still signed in after logout")
	}
	// The provider accepts the request (it checks the hint's signature
	// and the registered post-logout URI) and sends the browser home.
	resp, err := g.client.Get(out["redirect"])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.String() != g.base+"/" || string(body) != "page /" {
		t.Fatalf("after the provider's logout: %s %q", resp.Request.URL, body)
	}
	// Signed out already: a second logout has nothing to end at the provider.
	if status, out := g.logout(true); status != http.StatusOK || out["redirect"] != "/" {
		t.Fatalf("second logout: %d %v", status, out)
	}
}

func TestLoginRefusesOpenRedirects(t *testing.T) {
	g, _ := realRig(t)
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example",
		"javascript:alert(1)", "evil.example", "http:/evil.example", "/\r\nSet-Cookie: x=1", "/caf\u00e9"} {
		resp, err := g.noFollow().Get(g.base + auth.LoginPath + "?next=" + url.QueryEscape(next))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || len(resp.Cookies()) != 0 {
			t.Errorf("next=%q: %d, Location %q, cookies %v", next, resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
		}
	}
}

func TestProviderErrorAndForeignCallbackRefused(t *testing.T) {
	g, _ := realRig(t)
	// The user cancels at the provider: it comes back with error=.
	resp, err := g.noFollow().Get(g.base + auth.LoginPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to, _ := url.Parse(resp.Header.Get("Location"))
	state := to.Query().Get("state")
	if status, _ := g.get(auth.CallbackPath + "?error=access_denied&state=" + state); status != http.StatusForbidden {
		t.Fatalf("provider error: %d", status)
	}
	if _, ok := g.me(); ok {
		t.Fatal("signed in after the provider refused")
	}
	// The state is spent even so.
	g.setCookie(&http.Cookie{Name: auth.FlowCookie, Value: state, Path: "/auth/"})
	if status, _ := g.get(auth.CallbackPath + "?code=x&state=" + state); status != http.StatusBadRequest {
		t.Fatalf("spent state: %d", status)
	}
}

func TestExpiredSessionRefusedAndPurged(t *testing.T) {
	g, _ := realRig(t)
	ctx := context.Background()
	id := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	if _, ok := auth.ParseSessionID(id); !ok {
		t.Fatal("test id invalid")
	}
	old := auth.Session{IDHash: auth.HashSessionID(id), User: auth.User{Subject: "oidc:old", Name: "Old"},
		Created: time.Now().Add(-13 * time.Hour), Expires: time.Now().Add(-time.Hour)}
	if err := g.store.PutSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	g.setCookie(&http.Cookie{Name: auth.SessionCookie, Value: id, Path: "/"})
	if u, ok := g.me(); ok {
		t.Fatalf("expired session accepted as %+v", u)
	}
	if _, err := g.store.Session(ctx, old.IDHash); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("expired session not purged: %v", err)
	}
	// The same session, live, is accepted: the refusal was the expiry.
	old.Expires = time.Now().Add(time.Hour)
	if err := g.store.PutSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	if u, ok := g.me(); !ok || u != old.User {
		t.Fatalf("live session: %+v %v", u, ok)
	}
}

func TestProviderDownAtStart(t *testing.T) {
	ln, base := listen(t)
	dead, _ := listen(t)
	issuer := "http://" + dead.Addr().String()
	dead.Close()
	g := newRig(t, ln, auth.Config{Issuer: issuer, ClientID: "c"})
	if g.base != base {
		t.Fatal(g.base)
	}
	if status, body := g.get(auth.LoginPath); status != http.StatusBadGateway || !strings.Contains(body, "cannot be reached") {
		t.Fatalf("login with the provider down: %d %q", status, body)
	}
}

func TestNewOIDCRefusesBadConfig(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []auth.Config{
		{ClientID: "c", PublicURL: "http://127.0.0.1:1"},
		{Issuer: "ftp://idp", ClientID: "c", PublicURL: "http://127.0.0.1:1"},
		{Issuer: "http://127.0.0.1:1", PublicURL: "http://127.0.0.1:1"},
		{Issuer: "http://127.0.0.1:1", ClientID: "c"},
	} {
		if _, err := auth.NewOIDC(ctx, cfg, nil, nil); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
