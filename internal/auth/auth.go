// Package auth says who is making a request and whether a state-changing
// request may be trusted: the server's mode (open or oidc), the signed-in
// user of a session, and the checks against cross-site requests (CSRF)
// that every state-changing endpoint runs.
//
// In open mode nobody signs in: User always reports false, and identity
// comes from the capabilities the access layer hands out. In oidc mode a
// user signs in with an OpenID provider and gets a server-side session.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Mode is how people are identified on this server.
type Mode string

// The two modes.
const (
	// Open: no sign-in; anyone may create a room.
	Open Mode = "open"
	// OIDC: users sign in with an OpenID provider; only they create rooms.
	OIDC Mode = "oidc"
)

// User is a signed-in person as the provider describes them.
type User struct {
	// Subject is stable and unique on this server: "oidc:" and the
	// provider's sub claim.
	Subject string `json:"subject"`
	Name    string `json:"name"`
	Email   string `json:"email,omitempty"`
}

// CSRF errors; the HTTP layer answers 403 to each.
var (
	ErrCrossSite = errors.New("cross-site request refused")
	ErrNotJSON   = errors.New("state-changing requests must send Content-Type: application/json")
	ErrNotUpload = errors.New("uploads must send Content-Type: audio/… or application/octet-stream")
	ErrCSRF      = errors.New("missing or wrong CSRF token (header X-Parley-CSRF)")
)

// Cookie and header names.
const (
	CSRFCookie = "parley_csrf"
	CSRFHeader = "X-Parley-CSRF"
)

// Service identifies requests. The zero value is not usable; use NewOpen
// or NewOIDC.
type Service struct {
	mode Mode
	// secure marks cookies Secure (the public URL is https).
	secure bool
	// host is the public URL's host ("" = the request's own Host).
	host string
	// user returns the signed-in user of a request (nil in open mode).
	user func(r *http.Request) (User, bool)
	// rp signs users in with an OpenID provider (nil in open mode).
	rp *relyingParty
}

// NewOpen returns the open mode's service. publicURL may be empty.
func NewOpen(publicURL string) *Service {
	s := &Service{mode: Open}
	s.setPublicURL(publicURL)
	return s
}

func (s *Service) setPublicURL(publicURL string) {
	if u, err := url.Parse(publicURL); err == nil && publicURL != "" {
		s.secure = u.Scheme == "https"
		s.host = u.Host
	}
}

// Mode returns the server's mode.
func (s *Service) Mode() Mode { return s.mode }

// User returns the request's signed-in user, if any.
func (s *Service) User(r *http.Request) (User, bool) {
	if s.user == nil {
		return User{}, false
	}
	return s.user(r)
}

// CSRFToken returns the request's CSRF token, setting the cookie that
// carries it when the browser has none yet. Pages read it from GET
// /api/session and send it back in the X-Parley-CSRF header: a site that
// cannot read our cookies cannot forge that header (double submit), and
// the cookie is SameSite=Strict besides.
func (s *Service) CSRFToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(CSRFCookie); err == nil && validToken(c.Value) {
		return c.Value
	}
	tok := newToken()
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: tok, Path: "/", Secure: s.secure, SameSite: http.SameSiteStrictMode})
	return tok
}

// Check refuses a state-changing request that may come from another site:
// it must be same-origin by the browser's own account (Origin and
// Sec-Fetch-Site, when sent), have a JSON body type (a cross-site form or
// a "simple" fetch cannot send one without a preflight we never grant),
// and carry the CSRF token of its cookie in the X-Parley-CSRF header.
func (s *Service) Check(r *http.Request) error {
	return s.check(r, func(mt string) bool { return mt == "application/json" }, ErrNotJSON)
}

// CheckUpload is Check for a request whose body is a file: its type must
// be audio/… or application/octet-stream (neither is one a cross-site
// form may send without the browser asking first).
func (s *Service) CheckUpload(r *http.Request) error {
	return s.check(r, func(mt string) bool { return strings.HasPrefix(mt, "audio/") || mt == "application/octet-stream" }, ErrNotUpload)
}

func (s *Service) check(r *http.Request, typeOK func(string) bool, typeErr error) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return ErrCrossSite
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, s.expectedHost(r)) {
			return ErrCrossSite
		}
	}
	if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || !typeOK(mt) {
			return typeErr
		}
	}
	c, err := r.Cookie(CSRFCookie)
	h := r.Header.Get(CSRFHeader)
	if err != nil || !validToken(c.Value) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(h)) != 1 {
		return ErrCSRF
	}
	return nil
}

func (s *Service) expectedHost(r *http.Request) string {
	if s.host != "" {
		return s.host
	}
	return r.Host
}

func newToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func validToken(t string) bool {
	if len(t) != 32 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(t)
	return err == nil
}
