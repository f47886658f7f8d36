// Package oidcop runs a real OpenID provider on loopback for sign-in
// tests: zitadel/oidc's op package with its example in-memory storage
// and login page (users test-user@127.0.0.1 and test-user2, password
// "verysecure"). Nothing here is faked: discovery, the authorization
// endpoint with PKCE, the login form, the token endpoint, signed ID
// tokens, UserInfo and end_session are the library's own.
package oidcop

import (
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The example storage's first user (storage.NewUserStore).
const (
	Password = "verysecure"
	Subject  = "id1"
	Name     = "Test User"
	Email    = "test-user@zitadel.ch"
)

// Provider is a running OpenID provider.
type Provider struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// Username signs in with Password as the user Subject.
	Username string
	srv      *httptest.Server
}

// Start runs a provider on 127.0.0.1 with one confidential web client
// allowed to use redirectURI and, after sign-out, postLogoutURI. It stops
// when the test ends.
func Start(t testing.TB, redirectURI, postLogoutURI string) *Provider {
	return StartHost(t, "127.0.0.1", redirectURI, postLogoutURI)
}

// StartHost is Start with the issuer named by host ("localhost": a site
// other than 127.0.0.1 for a browser, so that the redirects between
// Parley and the provider are cross-site as in production). It still
// listens on 127.0.0.1 only.
func StartHost(t testing.TB, host, redirectURI, postLogoutURI string) *Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	issuer := "http://" + net.JoinHostPort(host, port)
	p := &Provider{Issuer: issuer, ClientID: "parley-test", ClientSecret: "parley-test-secret", Username: "test-user@" + host}
	clients := map[string]*storage.Client{p.ClientID: storage.WebClient(p.ClientID, p.ClientSecret, redirectURI)}
	st := &logoutStorage{Storage: storage.NewStorageWithClients(storage.NewUserStore(issuer), clients), postLogout: []string{postLogoutURI}}
	p.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: exampleop.SetupServer(issuer, st, nil, false)}}
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

// logoutStorage registers the client's post-logout redirect URI, which
// the example's clients do not have.
type logoutStorage struct {
	*storage.Storage
	postLogout []string
}

func (s *logoutStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return logoutClient{Client: c, uris: s.postLogout}, nil
}

type logoutClient struct {
	op.Client
	uris []string
}

func (c logoutClient) PostLogoutRedirectURIs() []string { return c.uris }

var idField = regexp.MustCompile(`name="id" value="([^"]*)"`)

// SubmitLogin fills in the provider's login page, read from page (the
// answer a client got after following the redirects of a sign-in), as
// the user with password, and returns the answer to the form after the
// client followed its redirects.
func SubmitLogin(client *http.Client, page *http.Response, username, password string) (*http.Response, error) {
	body, err := io.ReadAll(page.Body)
	page.Body.Close()
	if err != nil {
		return nil, err
	}
	m := idField.FindSubmatch(body)
	if m == nil || !strings.Contains(page.Request.URL.Path, "/login/") {
		return nil, fmt.Errorf("not the provider's login page: %s %.300s", page.Request.URL, body)
	}
	action := page.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	return client.PostForm(action.String(), url.Values{"id": {html.UnescapeString(string(m[1]))}, "username": {username}, "password": {password}})
}
