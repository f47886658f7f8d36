package auth

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestFlowTableOneUseExpiryAndBound(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tab := newFlowTable(3)
	put := func(state string, at time.Time) { tab.put(&flow{state: state, expires: at.Add(flowTTL)}, at) }
	put("a", now)
	if f, ok := tab.take("a", now.Add(time.Minute)); !ok || f.state != "a" {
		t.Fatal("live flow not found")
	}
	if _, ok := tab.take("a", now.Add(time.Minute)); ok {
		t.Fatal("a flow was taken twice")
	}
	put("b", now)
	if _, ok := tab.take("b", now.Add(flowTTL)); ok {
		t.Fatal("expired flow accepted")
	}
	// Full: the oldest goes first.
	for i := range 4 {
		put(fmt.Sprint(i), now.Add(time.Duration(i)*time.Second))
	}
	if n := tab.len(); n != 3 {
		t.Fatalf("%d flows kept, bound 3", n)
	}
	if _, ok := tab.take("0", now); ok {
		t.Fatal("oldest flow kept past the bound")
	}
	if _, ok := tab.take("3", now); !ok {
		t.Fatal("newest flow dropped")
	}
	// Expired flows are dropped on the next put, whatever the bound.
	put("late", now.Add(flowTTL+time.Hour))
	if n := tab.len(); n != 1 {
		t.Fatalf("%d flows after expiry, want 1", n)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/": "/", "/abcdefghijklm": "/abcdefghijklm", "/a?b=c#d": "/a?b=c#d", "/%2F%2Fx": "/%2F%2Fx"} {
		if got, ok := LocalPath(in); !ok || got != want {
			t.Errorf("LocalPath(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"//x", "/\\x", "\\\\x", "http://x/", "x", "/\x00", "/a\nb", "/\u00e9", strings.Repeat("/a", 1025)} {
		if got, ok := LocalPath(in); ok {
			t.Errorf("LocalPath(%q) accepted as %q", in, got)
		}
	}
}

// FuzzLocalPath: whatever comes in, an accepted path resolves to this
// site, like a browser resolves a Location header.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"", "/", "//evil", "/\\evil", "/\t/evil", "https://evil/", "/a?next=//evil", "/%2f%2fevil", "/.."} {
		f.Add(s)
	}
	base, _ := url.Parse("https://meet.example/room/x")
	f.Fuzz(func(t *testing.T, next string) {
		got, ok := LocalPath(next)
		if !ok {
			return
		}
		u, err := base.Parse(got)
		if err != nil {
			t.Fatalf("accepted %q does not parse: %v", got, err)
		}
		if u.Scheme != "https" || u.Host != "meet.example" || u.User != nil {
			t.Fatalf("accepted %q resolves to %s", got, u)
		}
		for _, c := range []byte(got) {
			if c < 0x21 && c != ' ' || c > 0x7e || c == '\\' {
				t.Fatalf("accepted %q holds byte %#x", got, c)
			}
		}
	})
}

// FuzzParseSessionID: only canonical 256-bit ids pass; an accepted one
// round-trips through base64url unchanged.
func FuzzParseSessionID(f *testing.F) {
	f.Add(newSessionID())
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("A", 42) + "B") // non-zero padding bits: not canonical
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		id, ok := ParseSessionID(v)
		if !ok {
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(b) != 32 || base64.RawURLEncoding.EncodeToString(b) != v {
			t.Fatalf("accepted %q: %d bytes, %v", v, len(b), err)
		}
	})
}
