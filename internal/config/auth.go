package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// OIDC configures sign-in with an OpenID provider (--auth oidc). Flags
// and environment variables drop the "oidc." prefix (--oidc-issuer,
// PARLEY_OIDC_ISSUER).
type OIDC struct {
	Issuer   string `name:"oidc-issuer" help:"issuer URL of the OpenID provider, e.g. https://sso.example.org/realms/staff (setting it turns --auth oidc on)"`
	ClientID string `name:"oidc-client-id" help:"client id registered at the provider; its redirect URI is <public-url>/auth/callback (the secret goes in PARLEY_OIDC_CLIENT_SECRET)"`
	// ClientSecret is never a flag: a flag's value shows in ps.
	ClientSecret string        `name:"oidc-client-secret" flag:"-"`
	Scopes       []string      `name:"oidc-scopes" help:"scopes asked for, comma separated (openid is always added)"`
	ACRValues    string        `name:"oidc-acr-values" help:"acr_values sent to the provider, space separated (e.g. eidas1 for ProConnect); an ID token with another acr is refused"`
	SessionTTL   time.Duration `name:"session-ttl" help:"how long a sign-in lasts"`
}

// The two values of --auth.
const (
	AuthOpen = "open"
	AuthOIDC = "oidc"
)

// AuthMode is the server's mode: --auth when given, else oidc when an
// issuer is set, else open.
func (c *Config) AuthMode() string {
	if c.Auth == "" && c.OIDC.Issuer != "" {
		return AuthOIDC
	}
	if c.Auth == "" {
		return AuthOpen
	}
	return c.Auth
}

func (c *Config) authProblems() []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	o := c.OIDC
	switch c.AuthMode() {
	case AuthOpen:
		if o.Issuer != "" {
			bad("auth open with oidc-issuer set: choose one (--auth oidc signs users in)")
		}
	case AuthOIDC:
		if !secureURL(o.Issuer) {
			bad("oidc-issuer %q: want https://host[/path] (http only on loopback)", o.Issuer)
		}
		if o.ClientID == "" {
			bad("oidc-client-id is required with --auth oidc")
		}
		if c.Site() == "" {
			bad("public-url is required with --auth oidc: the provider sends users back to <public-url>/auth/callback")
		} else if !secureURL(c.Site()) {
			bad("public-url %q: --auth oidc wants https (http only on loopback): session cookies must not travel in clear", c.Site())
		}
	default:
		bad("auth %q: want open or oidc", c.Auth)
	}
	for _, s := range o.Scopes {
		if strings.ContainsAny(s, " \t\"") {
			bad("oidc-scopes %q: one scope per item, comma separated", s)
		}
	}
	if o.SessionTTL < time.Minute || o.SessionTTL > 30*24*time.Hour {
		bad("session-ttl %v: 1m to 720h", o.SessionTTL)
	}
	return errs
}

// secureURL: an https URL with a host, or http to a loopback host.
func secureURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		ip := net.ParseIP(h)
		return h == "localhost" || (ip != nil && ip.IsLoopback())
	}
	return false
}
