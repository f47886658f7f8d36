package auth_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/store"
)

// rig is a relying party on loopback: the auth service's routes, a
// page that says who is signed in (/me), one that hands out the CSRF
// token (/csrf), and every other path answering "page <path>".
type rig struct {
	t     *testing.T
	base  string
	svc   *auth.Service
	store *store.DB
	// client follows redirects with a cookie jar, like a browser; rec
	// keeps every answer it got.
	client *http.Client
	rec    *recorder
}

// listen reserves the relying party's address first: the provider must
// know its redirect URI before it starts.
func listen(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

func newRig(t *testing.T, ln net.Listener, cfg auth.Config) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.PublicURL = "http://" + ln.Addr().String()
	svc, err := auth.NewOIDC(ctx, cfg, st, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		u, ok := svc.User(r)
		json.NewEncoder(w).Encode(map[string]any{"signed_in": ok, "user": u})
	})
	mux.HandleFunc("GET /csrf", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, svc.CSRFToken(w, r)) })
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page "+r.URL.RequestURI()) })
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	rec := &recorder{rt: http.DefaultTransport}
	return &rig{t: t, base: cfg.PublicURL, svc: svc, store: st, rec: rec, client: &http.Client{Jar: jar, Transport: rec}}
}

// recorder keeps every request and answer that went through it.
type recorder struct {
	rt    http.RoundTripper
	mu    sync.Mutex
	resps []*http.Response
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.rt.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.resps = append(r.resps, resp)
		r.mu.Unlock()
	}
	return resp, err
}

// last returns the last answer to a request for path on host.
func (r *recorder) last(host, path string) *http.Response {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.resps) - 1; i >= 0; i-- {
		if u := r.resps[i].Request.URL; u.Host == host && u.Path == path {
			return r.resps[i]
		}
	}
	return nil
}

func (g *rig) get(path string) (int, string) {
	g.t.Helper()
	resp, err := g.client.Get(g.base + path)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// me says who the rig's browser is signed in as.
func (g *rig) me() (auth.User, bool) {
	g.t.Helper()
	_, body := g.get("/me")
	var out struct {
		SignedIn bool      `json:"signed_in"`
		User     auth.User `json:"user"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		g.t.Fatalf("/me: %v: %s", err, body)
	}
	return out.User, out.SignedIn
}

// cookie returns the browser's cookie of that name for the rig's site.
func (g *rig) cookie(name string) (*http.Cookie, bool) {
	req, _ := http.NewRequest("GET", g.base+"/auth/callback", nil)
	for _, c := range g.client.Jar.Cookies(req.URL) {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// setCookie puts a cookie in the browser as the site would.
func (g *rig) setCookie(c *http.Cookie) {
	req, _ := http.NewRequest("GET", g.base+"/auth/callback", nil)
	g.client.Jar.SetCookies(req.URL, []*http.Cookie{c})
}

// logout posts to /auth/logout as the page does, with or without the
// CSRF header, and returns the status and decoded answer.
func (g *rig) logout(withToken bool) (int, map[string]string) {
	g.t.Helper()
	_, tok := g.get("/csrf")
	req, _ := http.NewRequest("POST", g.base+auth.LogoutPath, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", g.base)
	if withToken {
		req.Header.Set(auth.CSRFHeader, tok)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// noFollow is a client of the same browser that stops at the first
// answer, to read redirects.
func (g *rig) noFollow() *http.Client {
	return &http.Client{Jar: g.client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
