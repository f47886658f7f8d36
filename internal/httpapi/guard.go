package httpapi

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/internal/signal"
)

// guard is the middleware in front of every route: it checks the Host,
// applies the per-address limits, and turns the server's write timeout
// into a timeout on progress. Every refusal is counted in
// parley_http_refused_total{reason}.
type guard struct {
	next         http.Handler
	hosts        []string // the public URL's host name (and the node's); empty: any Host
	addrs        *addrTable
	writeTimeout time.Duration
	refused      *prometheus.CounterVec
}

var errWrongHost = signal.NewError(signal.CodeWrongHost, "this server does not answer for that host name")

func newGuard(next http.Handler, o Options) *guard {
	g := &guard{next: next, addrs: newAddrTable(o.Limits), writeTimeout: o.WriteTimeout,
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_http_refused_total",
			Help: "HTTP requests refused by a limit or check, by reason (sockets, joins, rooms, addresses, host, metrics_token)."},
			[]string{"reason"})}
	for _, a := range []string{o.PublicURL, o.NodeURL} {
		if u, err := url.Parse(a); err == nil && a != "" {
			g.hosts = append(g.hosts, canonicalHost(u.Hostname()))
		}
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(g.refused)
	}
	return g
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.hostAllowed(r) {
		g.refuse(w, &refusal{"host", errWrongHost, 0})
		return
	}
	kind := classify(r)
	switch kind {
	case kindSocket:
		release, no := g.addrs.openSocket(g.addrs.clientAddr(r))
		if no != nil {
			g.refuse(w, no)
			return
		}
		defer release()
		// No write-progress wrapper: the upgraded socket keeps its own
		// pings and write timeout (package signal), and net/http clears
		// the connection's deadlines when it is hijacked.
		g.next.ServeHTTP(w, r)
		return
	case kindJoin, kindCreate:
		if no := g.addrs.take(g.addrs.clientAddr(r), kind); no != nil {
			g.refuse(w, no)
			return
		}
	}
	if g.writeTimeout > 0 {
		w = &progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: g.writeTimeout}
	}
	g.next.ServeHTTP(w, r)
}

func (g *guard) refuse(w http.ResponseWriter, no *refusal) {
	g.refused.WithLabelValues(no.reason).Inc()
	if no.retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(no.retry.Seconds()))))
	}
	writeError(w, no.err)
}

// hostAllowed checks the Host header against the public URL's host name,
// when one is configured. With a public URL the API's answers build
// their links from it, not from the Host; the check is against DNS
// rebinding: a page on a name of the attacker's, made to resolve to this
// server, runs in the visitor's browser with that name's origin and
// could read the API of a server the attacker cannot reach itself (one
// on the visitor's private network). Health checks come from load balancers and orchestrators
// that address the server by its IP, and /metrics is guarded by its own
// token; those answer whatever the Host. The port is not compared: a
// reverse proxy may add or drop it, and rebinding needs a foreign name,
// not a foreign port.
func (g *guard) hostAllowed(r *http.Request) bool {
	if len(g.hosts) == 0 {
		return true
	}
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return slices.Contains(g.hosts, canonicalHost((&url.URL{Host: r.Host}).Hostname()))
}

func canonicalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// progressWriter makes the server's write timeout a bound on a stalled
// response rather than on a whole one: before each chunk it moves the
// connection's write deadline to now + timeout. A 50 MB transcript read
// by someone on a slow line finishes as long as it keeps moving; a
// client that stops reading is cut off after the timeout (as nginx's
// send_timeout does). The chunk bounds how little a client may read per
// timeout: 32 KiB per 30 s with the defaults.
type progressWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

const progressChunk = 32 << 10

func (p *progressWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		chunk := b[:min(len(b), progressChunk)]
		// The error is ErrNotSupported for a writer without deadlines
		// (a test recorder); the server's own timeout then stands.
		p.rc.SetWriteDeadline(time.Now().Add(p.timeout))
		m, err := p.ResponseWriter.Write(chunk)
		n += m
		if err != nil {
			return n, err
		}
		b = b[m:]
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (p *progressWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
