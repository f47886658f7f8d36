package room

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestNewRoomID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewRoomID()
		if !ValidRoomID(id) {
			t.Fatalf("generated id %q is not valid", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	letters := len(strings.ReplaceAll(NewRoomID(), "-", ""))
	if bits := float64(letters) * math.Log2(26); bits < 60 {
		t.Fatalf("room ids carry %.1f bits, want ≥ 60", bits)
	}
}

func TestValidRoomID(t *testing.T) {
	for _, id := range []string{"abc-defg-hij", "abcd-efghi-jklm", "standup"} {
		if !ValidRoomID(id) {
			t.Errorf("%q should be valid", id)
		}
	}
	for _, id := range []string{"", "ABC-defg-hij", "abc--defg", "-abc", "abc-", "abc def", "../etc", "abc-defg-hij-klm-nop-qrs", "a", strings.Repeat("a", 60)} {
		if ValidRoomID(id) {
			t.Errorf("%q should be invalid", id)
		}
	}
}

func TestCleanName(t *testing.T) {
	if n, err := CleanName("  Ada Lovelace \n"); err != nil || n != "Ada Lovelace" {
		t.Fatalf("got %q %v", n, err)
	}
	if n, err := CleanName(strings.Repeat("é", 64)); err != nil || n == "" {
		t.Fatalf("64 characters must pass: %v", err)
	}
	for _, bad := range []string{"", "   ", strings.Repeat("x", 65), "a\x00b", "bell\a", "evil\u202Egnp.exe", "\xff"} {
		if _, err := CleanName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%q: want ErrInvalidName, got %v", bad, err)
		}
	}
}
