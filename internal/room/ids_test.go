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
	for _, id := range []string{"", "ABC-defg-hij", "abc--defg", "-abc", "abc-", "abc def", "../etc", "abc-defg-hij-klm-nop-qrs", "a", strings.Repeat("a", 60), "transcribe"} {
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

// TestNamesCannotPassForAnother: invisible characters are refused, one
// name has one spelling, and a second "Ada" in a room is told apart.
func TestNamesCannotPassForAnother(t *testing.T) {
	for _, bad := range []string{"Ada\u200B", "\uFEFFAda", "A\u2066da", "Ada\u00AD", "\u200DAda"} {
		if n, err := CleanName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%q: accepted as %q", bad, n)
		}
	}
	// "é" typed as e + combining acute is stored as the one character.
	if n, err := CleanName("Rene\u0301"); err != nil || n != "René" {
		t.Errorf("NFC: %q %v", n, err)
	}
	// A zero-width non-joiner inside a Persian name is part of it.
	if n, err := CleanName("می\u200Cخواهم"); err != nil || n != "می\u200Cخواهم" {
		t.Errorf("ZWNJ between letters: %q %v", n, err)
	}
	m := newManager(t, nil, 0)
	names := []string{}
	for _, n := range []string{"Ada", "ada", "Ａda", "Ada (2)", "Bob"} {
		p, err := m.Join(roomID, n, &conn{}, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, p.Name())
	}
	want := []string{"Ada", "ada (2)", "Ａda (3)", "Ada (2) (2)", "Bob"}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("names %q, want %q", names, want)
		}
	}
}

func TestChatDropsControlAndBidi(t *testing.T) {
	got, err := validChat(" see \u202Eexe.txt\u202C\x07 here\nnext\tline ")
	if err != nil || got != "see exe.txt here\nnext\tline" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := validChat("\u202E\x00 "); !errors.Is(err, ErrInvalidChat) {
		t.Fatalf("only invisible characters: %v", err)
	}
}
