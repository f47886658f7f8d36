package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config configures sign-in with an OpenID provider.
type Config struct {
	// Issuer is the provider's issuer URL; its discovery document is
	// Issuer + "/.well-known/openid-configuration".
	Issuer       string
	ClientID     string
	ClientSecret string // empty for a public client (PKCE alone)
	// Scopes asked for; default openid, profile and email. openid is
	// added when missing.
	Scopes []string
	// ACRValues, when set, is sent as acr_values (e.g. ProConnect's
	// "eidas1"), and an ID token whose acr claim is not one of them is
	// refused.
	ACRValues string
	// PublicURL is where users reach Parley; the redirect URI registered
	// at the provider is PublicURL + "/auth/callback", and the address
	// it sends users back to after signing out is PublicURL + "/".
	PublicURL string
	// SessionTTL is how long a sign-in lasts (default 12 h).
	SessionTTL time.Duration
	// HTTPClient talks to the provider (nil: one with a 10 s timeout).
	HTTPClient *http.Client
	// Audit, when set, records each sign-in and sign-out ("sign_in",
	// "sign_out") with the request it came from.
	Audit func(r *http.Request, u User, action string)
}

// Paths of the sign-in endpoints.
const (
	LoginPath    = "/auth/login"
	CallbackPath = "/auth/callback"
	LogoutPath   = "/auth/logout"
	// FlowCookie binds a sign-in in progress to the browser that started it.
	FlowCookie = "parley_oidc_flow"
)

// Sign-in refusals. The browser is told only that sign-in failed; the
// log has the reason.
var (
	ErrFlow     = errors.New("sign-in state missing, expired, used or from another browser")
	ErrIDToken  = errors.New("ID token refused")
	ErrProvider = errors.New("the provider refused the sign-in")
)

// relyingParty is the OpenID Connect side of a Service.
type relyingParty struct {
	cfg      Config
	sessions Sessions
	log      *slog.Logger
	secure   bool
	redirect string // the redirect URI
	home     string // where the provider sends users after signing out
	flows    *flowTable
	now      func() time.Time

	mu   sync.Mutex
	disc *discovery // nil until the provider answered once
}

// discovery is what the provider's discovery document tells us.
type discovery struct {
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	oauth      oauth2.Config
	endSession string // "" when the provider has no RP-initiated logout
}

// NewOIDC returns the oidc mode's service. It asks the provider for its
// discovery document once; when the provider cannot be reached the
// server starts anyway (guests still join by link) and the first
// sign-in asks again.
func NewOIDC(ctx context.Context, cfg Config, sessions Sessions, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if sessions == nil {
		return nil, errors.New("auth: oidc mode needs a session store")
	}
	for name, v := range map[string]string{"issuer": cfg.Issuer, "public URL": cfg.PublicURL} {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("auth: oidc %s %q: want http(s)://host[:port]", name, v)
		}
	}
	if cfg.ClientID == "" {
		return nil, errors.New("auth: oidc client id is required")
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	} else if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	base := strings.TrimRight(cfg.PublicURL, "/")
	s := &Service{mode: OIDC}
	s.setPublicURL(base)
	rp := &relyingParty{cfg: cfg, sessions: sessions, log: log, secure: s.secure,
		redirect: base + CallbackPath, home: base + "/", flows: newFlowTable(maxFlows), now: time.Now}
	s.rp, s.user = rp, rp.user
	if _, err := rp.discover(ctx); err != nil {
		log.Warn("OpenID provider unreachable; sign-in will try again", "issuer", cfg.Issuer, "err", err)
	}
	return s, nil
}

// discover fetches the provider's discovery document, once it succeeds.
func (rp *relyingParty) discover(ctx context.Context) (*discovery, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.disc != nil {
		return rp.disc, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, rp.cfg.HTTPClient), rp.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, err
	}
	rp.disc = &discovery{
		provider: p,
		verifier: p.Verifier(&oidc.Config{ClientID: rp.cfg.ClientID, Now: rp.now}),
		oauth: oauth2.Config{ClientID: rp.cfg.ClientID, ClientSecret: rp.cfg.ClientSecret,
			Endpoint: p.Endpoint(), RedirectURL: rp.redirect, Scopes: rp.cfg.Scopes},
		endSession: meta.EndSession,
	}
	return rp.disc, nil
}

// Routes registers the sign-in endpoints on mux; in open mode there are
// none.
func (s *Service) Routes(mux *http.ServeMux) {
	if s.rp == nil {
		return
	}
	mux.HandleFunc("GET "+LoginPath, s.rp.login)
	mux.HandleFunc("GET "+CallbackPath, s.rp.callback)
	mux.HandleFunc("POST "+LogoutPath, s.logout)
}

// login starts the authorization code flow (OpenID Connect Core §3.1)
// with PKCE S256, a state bound to this browser by a cookie, and a nonce.
func (rp *relyingParty) login(w http.ResponseWriter, r *http.Request) {
	next, ok := LocalPath(r.URL.Query().Get("next"))
	if !ok {
		fail(w, http.StatusBadRequest, "next must be a path on this site")
		return
	}
	d, err := rp.discover(r.Context())
	if err != nil {
		rp.log.Error("OpenID provider unreachable", "issuer", rp.cfg.Issuer, "err", err)
		fail(w, http.StatusBadGateway, "the sign-in provider cannot be reached; try again later")
		return
	}
	now := rp.now()
	f := &flow{state: newSessionID(), nonce: newSessionID(), verifier: oauth2.GenerateVerifier(), next: next, expires: now.Add(flowTTL)}
	rp.flows.put(f, now)
	// SameSite=Lax: the provider sends the browser back with a top-level
	// GET, which carries Lax cookies; Strict ones would be held back.
	http.SetCookie(w, &http.Cookie{Name: FlowCookie, Value: f.state, Path: "/auth/", MaxAge: int(flowTTL / time.Second),
		HttpOnly: true, Secure: rp.secure, SameSite: http.SameSiteLaxMode})
	opts := []oauth2.AuthCodeOption{oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)}
	if rp.cfg.ACRValues != "" {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", rp.cfg.ACRValues))
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, d.oauth.AuthCodeURL(f.state, opts...), http.StatusFound)
}

// callback ends the flow: the state must match this browser's flow
// cookie and a flow not yet used, the code is exchanged with the PKCE
// verifier, and the ID token must pass every check before a session
// starts.
func (rp *relyingParty) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	http.SetCookie(w, &http.Cookie{Name: FlowCookie, Value: "", Path: "/auth/", MaxAge: -1,
		HttpOnly: true, Secure: rp.secure, SameSite: http.SameSiteLaxMode})
	c, err := r.Cookie(FlowCookie)
	state := q.Get("state")
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		rp.refuse(w, r, ErrFlow, "state does not match the flow cookie")
		return
	}
	f, ok := rp.flows.take(state, rp.now())
	if !ok {
		rp.refuse(w, r, ErrFlow, "no live flow for this state")
		return
	}
	if e := q.Get("error"); e != "" {
		rp.refuse(w, r, ErrProvider, e+": "+q.Get("error_description"))
		return
	}
	d, err := rp.discover(r.Context())
	if err != nil {
		rp.refuse(w, r, ErrProvider, err.Error())
		return
	}
	u, raw, err := rp.exchange(r.Context(), d, f, q.Get("code"))
	if err != nil {
		rp.refuse(w, r, err, "")
		return
	}
	if err := rp.startSession(r.Context(), w, u, raw); err != nil {
		rp.log.Error("sign-in: session not stored", "subject", u.Subject, "err", err)
		fail(w, http.StatusInternalServerError, "sign-in failed: the session could not be stored")
		return
	}
	rp.log.Info("signed in", "subject", u.Subject, "remote", r.RemoteAddr)
	if rp.cfg.Audit != nil {
		rp.cfg.Audit(r, u, "sign_in")
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", f.next)
	w.WriteHeader(http.StatusSeeOther)
}

// exchange trades the code for tokens and checks the ID token: issuer,
// audience, expiry and signature (go-oidc), then nonce, authorized
// party and acr here.
func (rp *relyingParty) exchange(ctx context.Context, d *discovery, f *flow, code string) (User, string, error) {
	if code == "" {
		return User{}, "", fmt.Errorf("%w: no code", ErrProvider)
	}
	ctx = oidc.ClientContext(ctx, rp.cfg.HTTPClient)
	tok, err := d.oauth.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		return User{}, "", fmt.Errorf("%w: code exchange: %v", ErrProvider, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return User{}, "", fmt.Errorf("%w: the token answer has no id_token", ErrIDToken)
	}
	idt, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return User{}, "", fmt.Errorf("%w: %v", ErrIDToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.nonce)) != 1 {
		return User{}, "", fmt.Errorf("%w: nonce does not match this sign-in", ErrIDToken)
	}
	var cl claims
	if err := idt.Claims(&cl); err != nil {
		return User{}, "", fmt.Errorf("%w: claims: %v", ErrIDToken, err)
	}
	// OpenID Connect Core §3.1.3.7 (4, 5): with several audiences the
	// token must name us as its authorized party.
	if len(idt.Audience) > 1 && cl.AZP != rp.cfg.ClientID {
		return User{}, "", fmt.Errorf("%w: several audiences and azp %q is not us", ErrIDToken, cl.AZP)
	}
	if rp.cfg.ACRValues != "" && !slices.Contains(strings.Fields(rp.cfg.ACRValues), cl.ACR) {
		return User{}, "", fmt.Errorf("%w: acr %q is not one of %q", ErrIDToken, cl.ACR, rp.cfg.ACRValues)
	}
	if idt.Subject == "" {
		return User{}, "", fmt.Errorf("%w: no sub claim", ErrIDToken)
	}
	// Many providers (ProConnect among them) put the profile only in
	// the UserInfo answer; its sub must be the ID token's (§5.3.2).
	if cl.displayName() == "" || cl.Email == "" {
		if ui, err := d.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
			rp.log.Warn("sign-in: userinfo failed; keeping the ID token's claims", "err", err)
		} else if ui.Subject != idt.Subject {
			return User{}, "", fmt.Errorf("%w: userinfo sub %q differs from the ID token's", ErrIDToken, ui.Subject)
		} else {
			var more claims
			if err := ui.Claims(&more); err == nil {
				cl.fill(more)
			}
		}
	}
	name := cl.displayName()
	if name == "" {
		name = idt.Subject
	}
	return User{Subject: "oidc:" + idt.Subject, Name: clip(name, 200), Email: clip(cl.Email, 320)}, raw, nil
}

// claims are the ID token and UserInfo claims Parley reads.
type claims struct {
	Email      string `json:"email"`
	Name       string `json:"name"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	// UsualName is ProConnect's family name in use.
	UsualName         string `json:"usual_name"`
	PreferredUsername string `json:"preferred_username"`
	ACR               string `json:"acr"`
	AZP               string `json:"azp"`
}

// displayName: name, else given name and usual or family name, else the
// preferred user name.
func (c claims) displayName() string {
	if n := strings.TrimSpace(c.Name); n != "" {
		return n
	}
	family := c.UsualName
	if strings.TrimSpace(family) == "" {
		family = c.FamilyName
	}
	if n := strings.TrimSpace(strings.TrimSpace(c.GivenName) + " " + strings.TrimSpace(family)); n != "" {
		return n
	}
	return strings.TrimSpace(c.PreferredUsername)
}

// fill takes from o the profile claims c lacks.
func (c *claims) fill(o claims) {
	for _, p := range []struct {
		dst *string
		src string
	}{
		{&c.Email, o.Email}, {&c.Name, o.Name}, {&c.GivenName, o.GivenName}, {&c.FamilyName, o.FamilyName},
		{&c.UsualName, o.UsualName}, {&c.PreferredUsername, o.PreferredUsername},
	} {
		if *p.dst == "" {
			*p.dst = p.src
		}
	}
}

func clip(s string, n int) string {
	if r := []rune(strings.TrimSpace(s)); len(r) > n {
		return string(r[:n])
	}
	return strings.TrimSpace(s)
}

// refuse logs why a sign-in failed and tells the browser only that it did.
func (rp *relyingParty) refuse(w http.ResponseWriter, r *http.Request, err error, detail string) {
	rp.log.Warn("sign-in refused", "err", err, "detail", detail, "remote", r.RemoteAddr)
	status := http.StatusForbidden
	if errors.Is(err, ErrFlow) {
		status = http.StatusBadRequest
	}
	fail(w, status, "sign-in failed; go back to the start page and try again")
}

// logout ends the session: the row is deleted, the cookie cleared, and
// the page is told where to go: the provider's end_session_endpoint
// with id_token_hint (OpenID Connect RP-Initiated Logout 1.0 §2) so the
// provider's own session ends too, or "/" when it has none.
func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.Check(r); err != nil {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error()})
		return
	}
	rp := s.rp
	sess, ok := rp.session(r)
	if ok {
		if err := rp.sessions.DeleteSession(r.Context(), sess.IDHash); err != nil {
			rp.log.Error("sign-out: session not deleted", "subject", sess.User.Subject, "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "sign-out failed; try again"})
			return
		}
		rp.log.Info("signed out", "subject", sess.User.Subject, "remote", r.RemoteAddr)
		if rp.cfg.Audit != nil {
			rp.cfg.Audit(r, sess.User, "sign_out")
		}
	}
	rp.clearSessionCookie(w)
	to := "/"
	if ok {
		if d, err := rp.discover(r.Context()); err != nil {
			rp.log.Warn("sign-out: provider unreachable; only Parley's session ended", "err", err)
		} else if d.endSession != "" {
			to = endSessionURL(d.endSession, url.Values{"id_token_hint": {sess.IDToken},
				"post_logout_redirect_uri": {rp.home}, "client_id": {rp.cfg.ClientID}})
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": to})
}

// endSessionURL adds q to the provider's endpoint, keeping any query it
// already has.
func endSessionURL(endpoint string, q url.Values) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "/"
	}
	all := u.Query()
	for k, v := range q {
		all[k] = v
	}
	u.RawQuery = all.Encode()
	return u.String()
}

func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
