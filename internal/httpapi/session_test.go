package httpapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/testkit/oidcop"
)

type sessionAnswer struct {
	Mode auth.Mode  `json:"mode"`
	User *auth.User `json:"user"`
	CSRF string     `json:"csrf"`
}

func getSession(t *testing.T, c *http.Client, base string) sessionAnswer {
	t.Helper()
	resp, err := c.Get(base + "/api/session")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out sessionAnswer
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /api/session: %d %v", resp.StatusCode, err)
	}
	return out
}

func TestSessionOpenMode(t *testing.T) {
	srv := newAPI(t, Options{})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	got := getSession(t, c, srv.URL)
	if got.Mode != auth.Open || got.User != nil || len(got.CSRF) != 32 {
		t.Fatalf("open mode session: %+v", got)
	}
	if again := getSession(t, c, srv.URL); again.CSRF != got.CSRF {
		t.Fatalf("CSRF token changed between two visits: %q, %q", got.CSRF, again.CSRF)
	}
	// No sign-in in open mode.
	for _, r := range []struct{ method, path string }{{"GET", auth.LoginPath}, {"GET", auth.CallbackPath + "?code=x&state=y"}, {"POST", auth.LogoutPath}} {
		req, _ := http.NewRequest(r.method, srv.URL+r.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s in open mode: %d", r.method, r.path, resp.StatusCode)
		}
	}
}

// TestSessionOIDCMode signs in at a real provider and reads the user
// back from /api/session, then signs out with the CSRF token it gave.
func TestSessionOIDCMode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	op := oidcop.Start(t, base+auth.CallbackPath, base+"/")
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := auth.NewOIDC(ctx, auth.Config{Issuer: op.Issuer, ClientID: op.ClientID, ClientSecret: op.ClientSecret, PublicURL: base}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: New(Options{Signal: http.NotFoundHandler(), Auth: a, Store: st, Keys: access.NewKeys(make([]byte, 32))})}}
	srv.Start()
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if got := getSession(t, c, base); got.Mode != auth.OIDC || got.User != nil {
		t.Fatalf("before sign-in: %+v", got)
	}
	page, err := c.Get(base + auth.LoginPath + "?next=" + url.QueryEscape("/api/session"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := oidcop.SubmitLogin(c, page, op.Username, oidcop.Password)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.String() != base+"/api/session" {
		t.Fatalf("landed on %s", resp.Request.URL)
	}
	got := getSession(t, c, base)
	want := auth.User{Subject: "oidc:" + oidcop.Subject, Name: oidcop.Name, Email: oidcop.Email}
	if got.User == nil || *got.User != want {
		t.Fatalf("after sign-in: %+v", got)
	}

	req, _ := http.NewRequest("POST", base+auth.LogoutPath, nil)
	req.Header.Set("Origin", base)
	req.Header.Set(auth.CSRFHeader, got.CSRF)
	out, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	json.NewDecoder(out.Body).Decode(&body)
	out.Body.Close()
	if out.StatusCode != http.StatusOK || !strings.HasPrefix(body["redirect"], op.Issuer+"/end_session?") {
		t.Fatalf("logout: %d %v", out.StatusCode, body)
	}
	if after := getSession(t, c, base); after.User != nil {
		t.Fatalf("after logout: %+v", after)
	}
}
