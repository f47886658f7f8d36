package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAuthDefaultsOpen(t *testing.T) {
	cfg, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AuthMode() != AuthOpen || cfg.OIDC.SessionTTL != 12*time.Hour || !slices.Equal(cfg.OIDC.Scopes, []string{"openid", "profile", "email"}) {
		t.Fatalf("defaults: mode %q, %+v", cfg.AuthMode(), cfg.OIDC)
	}
}

func TestOIDCFromFlagsEnvAndFile(t *testing.T) {
	env := map[string]string{"PARLEY_OIDC_CLIENT_SECRET": "s3cret"}
	cfg, err := load(t, []string{"--oidc-issuer", "https://sso.example.org/realms/staff", "--oidc-client-id", "parley",
		"--public-url", "https://meet.example.org", "--oidc-scopes", "openid,profile,email,usual_name", "--oidc-acr-values", "eidas1"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AuthMode() != AuthOIDC || cfg.OIDC.ClientSecret != "s3cret" || cfg.OIDC.ACRValues != "eidas1" || len(cfg.OIDC.Scopes) != 4 {
		t.Fatalf("mode %q, %+v", cfg.AuthMode(), cfg.OIDC)
	}
	// The secret is never a flag: it would show in ps.
	if _, err := load(t, []string{"--oidc-client-secret", "x"}, nil); err == nil || !strings.Contains(err.Error(), "not defined") {
		t.Fatalf("--oidc-client-secret accepted as a flag: %v", err)
	}
	file := filepath.Join(t.TempDir(), "parley.json")
	os.WriteFile(file, []byte(`{"auth":"oidc","public-url":"http://127.0.0.1:8080","oidc":{"oidc-issuer":"http://localhost:8081/realms/x","oidc-client-id":"c","oidc-client-secret":"from-file","session-ttl":"8h"}}`), 0o600)
	cfg, err = load(t, []string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OIDC.ClientSecret != "from-file" || cfg.OIDC.SessionTTL != 8*time.Hour || cfg.AuthMode() != AuthOIDC {
		t.Fatalf("from file: %+v", cfg.OIDC)
	}
}

func TestOIDCValidation(t *testing.T) {
	ok := []string{"--oidc-issuer", "https://idp.example", "--oidc-client-id", "c", "--public-url", "https://meet.example"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--auth", "oidc"}, "oidc-client-id is required"},
		{[]string{"--auth", "oidc", "--oidc-client-id", "c", "--public-url", "https://meet.example"}, "oidc-issuer"},
		{[]string{"--oidc-issuer", "https://idp.example", "--oidc-client-id", "c"}, "public-url is required"},
		{[]string{"--oidc-issuer", "http://idp.example", "--oidc-client-id", "c", "--public-url", "https://meet.example"}, "http only on loopback"},
		{[]string{"--oidc-issuer", "https://idp.example", "--oidc-client-id", "c", "--public-url", "http://meet.example"}, "wants https"},
		{append([]string{"--auth", "open"}, ok...), "choose one"},
		{[]string{"--auth", "ldap"}, `auth "ldap"`},
		{append([]string{"--oidc-scopes", "openid profile"}, ok...), "one scope per item"},
		{append([]string{"--session-ttl", "1s"}, ok...), "session-ttl"},
	} {
		_, err := load(t, c.args, nil)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: want ErrInvalid with %q, got %v", c.args, c.want, err)
		}
	}
	if _, err := load(t, ok, nil); err != nil {
		t.Fatalf("valid oidc config refused: %v", err)
	}
	if _, err := load(t, []string{"--oidc-issuer", "http://127.0.0.1:9000", "--oidc-client-id", "c", "--public-url", "http://[::1]:8080"}, nil); err != nil {
		t.Fatalf("loopback http refused: %v", err)
	}
}
