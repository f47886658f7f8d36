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

	"golang.org/x/text/unicode/norm"
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

// reservedIDs are page paths of the web client, never room ids.
var reservedIDs = map[string]bool{"transcribe": true, "meetings": true}

// ValidRoomID reports whether id is a well-formed room id (and not a
// page's path, like "transcribe").
func ValidRoomID(id string) bool {
	return len(id) <= 48 && roomIDPattern.MatchString(id) && !reservedIDs[id]
}

// MaxNameLen is the longest display name, in characters.
const MaxNameLen = 64

// CleanName trims a display name, puts it in Unicode normal form C (so
// that one name has one spelling) and checks it: 1 to 64 characters, no
// control characters, no format characters — zero-width spaces, the byte
// order mark, bidirectional controls, which make a name look like
// another's or display reversed. Zero-width (non-)joiners are kept
// between two letters, where Persian and Indic scripts need them.
func CleanName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)
	}
	name = norm.NFC.String(strings.TrimSpace(name))
	n := utf8.RuneCountInString(name)
	if n == 0 {
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if n > MaxNameLen {
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameLen)
	}
	rs := []rune(name)
	for i, r := range rs {
		switch {
		case unicode.IsControl(r):
			return "", fmt.Errorf("%w: control character %U", ErrInvalidName, r)
		case (r == 0x200C || r == 0x200D) && i > 0 && i < len(rs)-1 && isLetter(rs[i-1]) && isLetter(rs[i+1]):
		case unicode.Is(unicode.Cf, r):
			return "", fmt.Errorf("%w: invisible formatting character %U", ErrInvalidName, r)
		}
	}
	return name, nil
}

func isLetter(r rune) bool { return unicode.IsLetter(r) || unicode.IsMark(r) }

func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// sameName reports whether two cleaned names would read the same to
// participants (case and compatibility forms folded: "Ａda" is "ada").
func sameName(a, b string) bool {
	return strings.EqualFold(norm.NFKC.String(a), norm.NFKC.String(b))
}

// uniqueNameLocked returns name, or name with " (2)", " (3)", … when
// someone in the room already reads the same: nobody can pass for
// someone else by taking their name.
func (r *Room) uniqueNameLocked(name string) string {
	taken := func(n string) bool {
		for _, p := range r.participants {
			if sameName(p.name, n) {
				return true
			}
		}
		return false
	}
	if !taken(name) {
		return name
	}
	for i := 2; ; i++ {
		n := fmt.Sprintf("%s (%d)", name, i)
		if !taken(n) {
			return n
		}
	}
}

// newID returns a participant or message id: a prefix and 12 characters
// of crypto-random base32 (60 bits).
// NewMeetingID is a fresh meeting id (120 random bits): a live meeting's,
// or an uploaded recording's.
func NewMeetingID() string { return newID("MT_") + newID("") }

// ValidMeetingID reports whether id has the shape of the ids the server
// gives meetings ("MT_" and letters, digits, '_' or '-'; uploads' too),
// so that one never names a path outside a meeting's folder.
func ValidMeetingID(id string) bool {
	rest, ok := strings.CutPrefix(id, "MT_")
	if !ok || rest == "" || len(id) > 64 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func newID(prefix string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, 12)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return prefix + string(b)
}
