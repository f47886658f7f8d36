// Package access issues and checks the credentials of the access model:
// join tokens (short-lived, signed, bound to one room, one identity and
// one role; the signalling socket accepts no other way in) and meeting
// keys (a participant's capability to read the meeting's transcript
// afterwards, kept by their browser). It holds no state but its key and
// the identifiers of tokens already used.
package access

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Roles, from most to least trusted.
const (
	RoleOwner       = "owner"
	RoleModerator   = "moderator"
	RoleParticipant = "participant"
	RoleGuest       = "guest"
)

// ValidRole reports whether r is one of the four roles.
func ValidRole(r string) bool {
	switch r {
	case RoleOwner, RoleModerator, RoleParticipant, RoleGuest:
		return true
	}
	return false
}

// Token errors. The signalling layer answers each with its own code.
var (
	ErrMalformed = errors.New("join token malformed")
	ErrSignature = errors.New("join token signature invalid")
	ErrExpired   = errors.New("join token expired")
	ErrReplayed  = errors.New("join token already used")
)

// TokenTTL is how long a join token may wait before the socket uses it:
// the page asks for one right before it opens the socket.
const TokenTTL = 2 * time.Minute

// maxTokenLen bounds what Verify parses.
const maxTokenLen = 2048

// Claims are what a join token asserts. The server wrote every field; the
// client only carries the token.
type Claims struct {
	Room    string `json:"room"`
	Subject string `json:"sub"`  // "oidc:…" for a signed-in user, "guest:…" otherwise
	Name    string `json:"name"` // display name (the provider's for signed-in users)
	Role    string `json:"role"`
	Guest   bool   `json:"guest,omitempty"` // not signed in (shown as such)
	Lobby   bool   `json:"lobby,omitempty"` // must wait to be admitted
	Addr    string `json:"addr,omitempty"`  // the address that asked for the token (audit)
	Expires int64  `json:"exp"`             // Unix seconds
	ID      string `json:"jti"`             // single use
}

// Keys signs and verifies join tokens with one HMAC-SHA256 key and
// remembers the tokens already used until they expire.
type Keys struct {
	key []byte

	mu    sync.Mutex
	used  map[string]int64 // token id → expiry
	swept int64            // last sweep of used, Unix seconds
	now   func() time.Time
}

// KeyFile is the key's file under the data directory.
const KeyFile = "token.key"

// LoadKeys reads dataDir/token.key, creating it (32 random bytes, mode
// 0600) on first start, so tokens stay valid across a restart.
func LoadKeys(dataDir string) (*Keys, error) {
	path := filepath.Join(dataDir, KeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b = make([]byte, 32)
		rand.Read(b)
		if err := os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("access: write key: %w", err)
		}
		return NewKeys(b), nil
	}
	if err != nil {
		return nil, fmt.Errorf("access: read key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("access: %s: want 64 hex digits", path)
	}
	return NewKeys(key), nil
}

// NewKeys uses key (at least 32 bytes).
func NewKeys(key []byte) *Keys {
	return &Keys{key: key, used: map[string]int64{}, now: time.Now}
}

// Sign returns a token for c, setting its expiry and id.
func (k *Keys) Sign(c Claims) string { return k.SignAt(c, k.now()) }

// SignAt signs as if the time were now: the token expires TokenTTL after.
func (k *Keys) SignAt(c Claims, now time.Time) string {
	c.Expires = now.Add(TokenTTL).Unix()
	c.ID = randomID(16)
	payload, _ := json.Marshal(c)
	body := base64.RawURLEncoding.EncodeToString(payload)
	return "v1." + body + "." + base64.RawURLEncoding.EncodeToString(k.mac("v1."+body))
}

func (k *Keys) mac(s string) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// Verify checks a token's form, signature and expiry and returns its
// claims; it does not mark it used (Use does).
func (k *Keys) Verify(tok string) (Claims, error) {
	var c Claims
	if len(tok) > maxTokenLen {
		return c, ErrMalformed
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return c, ErrMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return c, ErrMalformed
	}
	if !hmac.Equal(sig, k.mac(parts[0]+"."+parts[1])) {
		return c, ErrSignature
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return Claims{}, ErrMalformed
	}
	if c.Room == "" || c.Subject == "" || c.ID == "" || !ValidRole(c.Role) {
		return Claims{}, ErrMalformed
	}
	if k.now().Unix() >= c.Expires {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// Use verifies a token and marks it used: a second Use of the same token
// fails with ErrReplayed.
func (k *Keys) Use(tok string) (Claims, error) {
	c, err := k.Verify(tok)
	if err != nil {
		return c, err
	}
	now := k.now().Unix()
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.used[c.ID]; ok {
		return Claims{}, ErrReplayed
	}
	// Forget expired ids once a TTL: an expired token fails Verify
	// anyway, so the set only holds the ids of the last two TTLs.
	if now-k.swept > int64(TokenTTL/time.Second) {
		for id, exp := range k.used {
			if exp <= now {
				delete(k.used, id)
			}
		}
		k.swept = now
	}
	k.used[c.ID] = c.Expires
	return c, nil
}

// NewMeetingKey returns a fresh meeting key and the hash the store keeps.
func NewMeetingKey() (key, hash string) {
	key = randomID(32)
	return key, HashSecret(key)
}

// HashSecret is how secrets given to browsers (meeting keys, creator
// tokens) are kept: a SHA-256, so a copy of the database grants nothing.
func HashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// NewSecret returns a random secret for a browser to keep.
func NewSecret() string { return randomID(32) }

// NewGuestSubject returns a fresh guest identity.
func NewGuestSubject() string { return "guest:" + randomID(12) }

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
