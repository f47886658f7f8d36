package access

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testKeys(now *time.Time) *Keys {
	k := NewKeys([]byte("0123456789abcdef0123456789abcdef"))
	k.now = func() time.Time { return *now }
	return k
}

func TestTokenRoundTripAndRefusals(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := testKeys(&now)
	c := Claims{Room: "abcd-efghi-jklm", Subject: "guest:x", Name: "Ada", Role: RoleParticipant, Lobby: true}
	tok := k.Sign(c)
	got, err := k.Verify(tok)
	if err != nil || got.Room != c.Room || got.Name != "Ada" || !got.Lobby || got.Role != RoleParticipant || got.ID == "" {
		t.Fatalf("verify: %+v, %v", got, err)
	}

	// Forged: the payload changed (role raised), the signature kept.
	parts := strings.Split(tok, ".")
	forged := Claims{Room: c.Room, Subject: "guest:x", Name: "Ada", Role: RoleOwner, Expires: got.Expires, ID: got.ID}
	k2 := testKeys(&now)
	k2.key = []byte("another key, another server......")
	other := strings.Split(k2.Sign(forged), ".")
	for name, bad := range map[string]string{
		"payload of another token": parts[0] + "." + other[1] + "." + parts[2],
		"signed with another key":  k2.Sign(forged),
	} {
		if _, err := k.Verify(bad); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v, want ErrSignature", name, err)
		}
	}
	for _, bad := range []string{"", "v1", "v2." + parts[1] + "." + parts[2], tok + ".x", parts[0] + "." + parts[1] + ".!!", strings.Repeat("a", 5000)} {
		if _, err := k.Verify(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%.40q: %v, want ErrMalformed", bad, err)
		}
	}

	// Single use.
	if _, err := k.Use(tok); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Use(tok); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second use: %v", err)
	}

	// Expired.
	late := k.Sign(c)
	now = now.Add(TokenTTL)
	if _, err := k.Use(late); !errors.Is(err, ErrExpired) {
		t.Fatalf("after TTL: %v", err)
	}
	// The used set forgets expired ids.
	now = now.Add(2 * TokenTTL)
	k.Use(k.Sign(c))
	if len(k.used) != 1 {
		t.Fatalf("used set holds %d ids, want only the last one", len(k.used))
	}
}

func TestLoadKeysKeepsTheKey(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	b, err := LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok := a.Sign(Claims{Room: "r", Subject: "s", Role: RoleGuest})
	if _, err := b.Verify(tok); err != nil {
		t.Fatalf("token of the first start refused after a restart: %v", err)
	}
	os.WriteFile(filepath.Join(dir, KeyFile), []byte("short\n"), 0o600)
	if _, err := LoadKeys(dir); err == nil {
		t.Fatal("a short key accepted")
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	k := testKeys(&now)
	f.Add(k.Sign(Claims{Room: "abcd-efghi-jklm", Subject: "guest:x", Name: "Ada", Role: RoleGuest}))
	f.Add("v1.e30.AAAA")
	f.Add("v1..")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := k.Verify(tok)
		if err != nil {
			return
		}
		// Whatever verifies must be a complete claim set this key signed.
		if c.Room == "" || c.Subject == "" || !ValidRole(c.Role) || c.Expires <= now.Unix() {
			t.Fatalf("accepted %q as %+v", tok, c)
		}
	})
}
