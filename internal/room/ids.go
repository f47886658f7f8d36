package room

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Errors about names and ids; the signalling layer maps them to codes.
var (
	ErrInvalidRoomID = errors.New("invalid room id")
	ErrInvalidName   = errors.New("invalid display name")
)

// roomIDPattern accepts lower-case letter groups joined by single hyphens,
// like the generated "abcd-efghi-jklm" or a shorter hand-made "abc-defg-hij".
var roomIDPattern = regexp.MustCompile(`^[a-z]{2,12}(-[a-z]{2,12}){0,4}$`)

// NewRoomID returns a fresh id of 13 random letters in groups of 4-5-4:
// 26^13 ≈ 2^61 possibilities, so ids cannot be guessed (at a million
// guesses a second, about 40 years on average to hit one of a thousand
// live rooms) while staying easy to read out on a phone.
func NewRoomID() string {
	groups := []int{4, 5, 4}
	var b strings.Builder
	max := big.NewInt(26)
	for g, n := range groups {
		if g > 0 {
			b.WriteByte('-')
		}
		for i := 0; i < n; i++ {
			x, err := rand.Int(rand.Reader, max)
			if err != nil {
				panic(fmt.Sprintf("crypto/rand: %v", err)) // the OS RNG failing is not recoverable
			}
			b.WriteByte(byte('a' + x.Int64()))
		}
	}
	return b.String()
}

// ValidRoomID reports whether id is a well-formed room id.
func ValidRoomID(id string) bool {
	return len(id) <= 48 && roomIDPattern.MatchString(id)
}

// MaxNameLen is the longest display name, in characters.
const MaxNameLen = 64

// CleanName trims a display name and checks it: 1 to 64 characters, no
// control characters, no bidirectional overrides (which let a name display
// as someone else's).
func CleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)
	}
	n := utf8.RuneCountInString(name)
	if n == 0 {
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if n > MaxNameLen {
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) || isBidiControl(r) {
			return "", fmt.Errorf("%w: control character %U", ErrInvalidName, r)
		}
	}
	return name, nil
}

func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// newID returns a participant or message id: a prefix and 12 characters
// of crypto-random base32 (60 bits).
func newID(prefix string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, 12)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return prefix + string(b)
}
