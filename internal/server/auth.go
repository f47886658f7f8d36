package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/store"
)

// newAuth builds the service of the configured mode. In oidc mode it
// asks the provider for its discovery document, waiting at most 10 s:
// a provider that is down does not keep the server from starting (the
// first sign-in asks again).
func newAuth(cfg config.Config, st *store.DB, log *slog.Logger) (*auth.Service, error) {
	if cfg.AuthMode() != config.AuthOIDC {
		return auth.NewOpen(cfg.Site()), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o := cfg.OIDC
	return auth.NewOIDC(ctx, auth.Config{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		Scopes: o.Scopes, ACRValues: o.ACRValues, PublicURL: cfg.Site(), SessionTTL: o.SessionTTL,
		Audit: func(r *http.Request, u auth.User, action string) {
			addr, _, _ := net.SplitHostPort(r.RemoteAddr)
			if err := st.Audit(r.Context(), store.AuditEntry{Actor: u.Subject, Name: u.Name, Addr: addr, Action: action}); err != nil {
				log.Error("audit row not stored", "action", action, "err", err)
			}
		}}, st, log)
}
