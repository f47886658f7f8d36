package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckRefusesCrossSiteAndMissingToken(t *testing.T) {
	s := NewOpen("")
	rec := httptest.NewRecorder()
	tok := s.CSRFToken(rec, httptest.NewRequest("GET", "/api/session", nil))
	cookie := rec.Result().Cookies()[0]
	if cookie.Name != CSRFCookie || cookie.Value != tok || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie %+v, token %q", cookie, tok)
	}
	req := func(mut func(r *http.Request)) *http.Request {
		r := httptest.NewRequest("POST", "http://meet.example/api/rooms", strings.NewReader(`{}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Origin", "http://meet.example")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set(CSRFHeader, tok)
		r.AddCookie(cookie)
		mut(r)
		return r
	}
	cases := []struct {
		name string
		mut  func(r *http.Request)
		want error
	}{
		{"same-origin with token", func(*http.Request) {}, nil},
		{"no browser headers (a script, not a browser)", func(r *http.Request) { r.Header.Del("Origin"); r.Header.Del("Sec-Fetch-Site") }, nil},
		{"other origin", func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") }, ErrCrossSite},
		{"cross-site fetch", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, ErrCrossSite},
		{"sibling site", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") }, ErrCrossSite},
		{"text/plain body", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, ErrNotJSON},
		{"form body", func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, ErrNotJSON},
		{"no header token", func(r *http.Request) { r.Header.Del(CSRFHeader) }, ErrCSRF},
		{"wrong header token", func(r *http.Request) { r.Header.Set(CSRFHeader, newToken()) }, ErrCSRF},
		{"no cookie", func(r *http.Request) { r.Header.Del("Cookie") }, ErrCSRF},
	}
	for _, c := range cases {
		if err := s.Check(req(c.mut)); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// The cookie is kept: a second visit gets the same token.
	r := httptest.NewRequest("GET", "/api/session", nil)
	r.AddCookie(cookie)
	rec = httptest.NewRecorder()
	if got := s.CSRFToken(rec, r); got != tok || len(rec.Result().Cookies()) != 0 {
		t.Fatalf("second visit: token %q (want %q), cookies %v", got, tok, rec.Result().Cookies())
	}
}

func TestCheckUsesPublicURLHost(t *testing.T) {
	s := NewOpen("https://meet.example")
	rec := httptest.NewRecorder()
	tok := s.CSRFToken(rec, httptest.NewRequest("GET", "/", nil))
	if c := rec.Result().Cookies()[0]; !c.Secure {
		t.Fatal("https public URL: CSRF cookie not Secure")
	}
	r := httptest.NewRequest("POST", "http://10.0.0.5/api/rooms", nil)
	r.Header.Set("Origin", "http://10.0.0.5") // the Host header says 10.0.0.5, but the site is meet.example
	r.Header.Set(CSRFHeader, tok)
	r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: tok})
	if err := s.Check(r); !errors.Is(err, ErrCrossSite) {
		t.Fatalf("origin other than the public URL: %v", err)
	}
	r.Header.Set("Origin", "https://meet.example")
	if err := s.Check(r); err != nil {
		t.Fatalf("public URL origin: %v", err)
	}
}
