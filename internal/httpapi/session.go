package httpapi

import (
	"net/http"

	"github.com/parleyhq/parley/internal/auth"
)

// sessionRoutes registers the sign-in endpoints of the server's mode
// (none in open mode) and GET /api/session, which tells the page the
// mode, who is signed in (null when nobody is), and the CSRF token to
// send in the X-Parley-CSRF header of every state-changing request.
func sessionRoutes(mux *http.ServeMux, a *auth.Service) {
	a.Routes(mux)
	mux.HandleFunc("GET /api/session", func(w http.ResponseWriter, r *http.Request) {
		out := struct {
			Mode auth.Mode  `json:"mode"`
			User *auth.User `json:"user"`
			CSRF string     `json:"csrf"`
		}{Mode: a.Mode(), CSRF: a.CSRFToken(w, r)}
		if u, ok := a.User(r); ok {
			out.User = &u
		}
		writeJSON(w, http.StatusOK, out)
	})
}
