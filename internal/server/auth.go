package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/config"
)

// newAuth builds the service of the configured mode. In oidc mode it
// asks the provider for its discovery document, waiting at most 10 s:
// a provider that is down does not keep the server from starting (the
// first sign-in asks again).
func newAuth(cfg config.Config, sessions auth.Sessions, log *slog.Logger) (*auth.Service, error) {
	if cfg.AuthMode() != config.AuthOIDC {
		return auth.NewOpen(cfg.PublicURL), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o := cfg.OIDC
	return auth.NewOIDC(ctx, auth.Config{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		Scopes: o.Scopes, ACRValues: o.ACRValues, PublicURL: cfg.PublicURL, SessionTTL: o.SessionTTL}, sessions, log)
}
