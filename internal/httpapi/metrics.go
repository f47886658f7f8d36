package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley/internal/signal"
)

// Internal serves /metrics and Go's pprof profiles, for a listener apart
// from the public one (--metrics-listen). Metrics tell how many meetings
// and people there are, profiles the code's paths and load; neither is
// for the people in the meetings. /debug/pprof/cmdline is left out: it
// would print the command line, tokens and keys given as flags included.
func Internal(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

var errNoEndpoint = signal.NewError(signal.CodeNotFound, "no such endpoint")

// bearerMetrics serves the metrics on the public listener to requests
// that carry the token; everyone else gets the 404 of a server without
// the endpoint. Both sides are hashed before the constant-time compare,
// so that not even the token's length shows in the timing.
func (g *guard) bearerMetrics(token string, metrics http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		h := sha256.Sum256([]byte(got))
		if token == "" || !ok || subtle.ConstantTimeCompare(h[:], want[:]) != 1 {
			g.refused.WithLabelValues("metrics_token").Inc()
			writeError(w, errNoEndpoint)
			return
		}
		metrics.ServeHTTP(w, r)
	})
}
