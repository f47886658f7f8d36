package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// SessionCookie carries a signed-in browser's session id.
const SessionCookie = "parley_session"

// DefaultSessionTTL is how long a sign-in lasts: a working day. The
// session is not extended by use; signing in again starts a new one.
const DefaultSessionTTL = 12 * time.Hour

// ErrNoSession is returned by Sessions.Session for an unknown id hash.
var ErrNoSession = errors.New("no such session")

// Session is a sign-in as the store keeps it. The browser holds the
// session id; the store only its SHA-256 (IDHash), so a copy of the
// database does not let anyone take over a session.
type Session struct {
	IDHash string
	User   User
	// IDToken is the provider's ID token, kept to send as id_token_hint
	// when the user signs out (OpenID Connect RP-Initiated Logout 1.0 §2).
	IDToken string
	Created time.Time
	Expires time.Time
}

// Sessions keeps sessions server-side. Implementations are safe for
// concurrent use; internal/store's SQLite is the one of the server.
type Sessions interface {
	// PutSession stores a new session.
	PutSession(ctx context.Context, s Session) error
	// Session returns the session of an id hash, or an error wrapping
	// ErrNoSession. An expired session is returned as stored: the caller
	// decides.
	Session(ctx context.Context, idHash string) (Session, error)
	// DeleteSession removes a session; removing an unknown one is no
	// error.
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteExpiredSessions removes every session that expired at or
	// before now and says how many it removed.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
}

// sessionIDLen is the length of a session id in its cookie: 32 random
// bytes (256 bits) in unpadded base64url.
const sessionIDLen = 43

// newSessionID returns a fresh random session id.
func newSessionID() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseSessionID checks a session cookie's value: exactly 43 characters
// of unpadded base64url that decode to 32 bytes. Anything else is not
// one of our ids, and is refused before it reaches the store.
func ParseSessionID(v string) (string, bool) {
	if len(v) != sessionIDLen {
		return "", false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(v)
	if err != nil || len(b) != 32 {
		return "", false
	}
	return v, true
}

// HashSessionID is the key under which the store keeps a session: the
// hex SHA-256 of the id. The id has 256 random bits, so no salt or slow
// hash is needed: nobody can search that space.
func HashSessionID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// startSession stores a new session for user and sets its cookie. A
// fresh id every time: an id planted in the browser before sign-in
// (session fixation) is never promoted.
func (rp *relyingParty) startSession(ctx context.Context, w http.ResponseWriter, u User, idToken string) error {
	now := rp.now()
	if n, err := rp.sessions.DeleteExpiredSessions(ctx, now); err != nil {
		rp.log.Warn("purging expired sessions failed", "err", err)
	} else if n > 0 {
		rp.log.Debug("expired sessions purged", "count", n)
	}
	id := newSessionID()
	s := Session{IDHash: HashSessionID(id), User: u, IDToken: idToken, Created: now, Expires: now.Add(rp.cfg.SessionTTL)}
	if err := rp.sessions.PutSession(ctx, s); err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: id, Path: "/",
		MaxAge: int(rp.cfg.SessionTTL / time.Second), Expires: s.Expires,
		HttpOnly: true, Secure: rp.secure, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// session returns the live session of a request's cookie. An expired
// session is refused and deleted.
func (rp *relyingParty) session(r *http.Request) (Session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return Session{}, false
	}
	id, ok := ParseSessionID(c.Value)
	if !ok {
		return Session{}, false
	}
	s, err := rp.sessions.Session(r.Context(), HashSessionID(id))
	if err != nil {
		if !errors.Is(err, ErrNoSession) {
			rp.log.Error("reading a session failed", "err", err)
		}
		return Session{}, false
	}
	if !rp.now().Before(s.Expires) {
		if err := rp.sessions.DeleteSession(r.Context(), s.IDHash); err != nil {
			rp.log.Warn("deleting an expired session failed", "err", err)
		}
		return Session{}, false
	}
	return s, true
}

func (rp *relyingParty) user(r *http.Request) (User, bool) {
	s, ok := rp.session(r)
	return s.User, ok
}

// clearSessionCookie tells the browser to forget its session cookie.
func (rp *relyingParty) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: rp.secure, SameSite: http.SameSiteLaxMode})
}
