package server

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/oidcop"
)

func session(t *testing.T, c *http.Client, base string) (mode auth.Mode, user *auth.User) {
	t.Helper()
	resp, err := c.Get(base + "/api/session")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Mode auth.Mode
		User *auth.User
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Mode, out.User
}

func TestOpenModeByDefault(t *testing.T) {
	srv := start(t)
	if mode, user := session(t, http.DefaultClient, srv.URL()); mode != auth.Open || user != nil {
		t.Fatalf("default server: mode %q, user %+v", mode, user)
	}
	if code, err := httpGet(srv.URL() + auth.LoginPath); err != nil || code != http.StatusNotFound {
		t.Fatalf("GET /auth/login in open mode: %d %v", code, err)
	}
}

// TestOIDCModeSignsIn configures a server as an operator would (issuer,
// client id, secret, public URL) and signs in at a real provider.
func TestOIDCModeSignsIn(t *testing.T) {
	// The provider must know the redirect URI, so the server's address
	// is chosen first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	op := oidcop.Start(t, base+auth.CallbackPath, base+"/")
	srv := start(t, func(c *config.Config) {
		c.Listen, c.PublicURL = addr, base
		c.OIDC.Issuer, c.OIDC.ClientID, c.OIDC.ClientSecret = op.Issuer, op.ClientID, op.ClientSecret
	})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if mode, user := session(t, c, srv.URL()); mode != auth.OIDC || user != nil {
		t.Fatalf("before sign-in: mode %q, user %+v", mode, user)
	}
	page, err := c.Get(srv.URL() + auth.LoginPath)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := oidcop.SubmitLogin(c, page, op.Username, oidcop.Password)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.String() != base+"/" {
		t.Fatalf("landed on %s", resp.Request.URL)
	}
	if _, user := session(t, c, srv.URL()); user == nil || user.Subject != "oidc:"+oidcop.Subject || user.Name != oidcop.Name {
		t.Fatalf("after sign-in: %+v", user)
	}
}
