// Package httpapi serves Parley's HTTP surface: the REST API, the
// signalling WebSocket, health and metrics endpoints, and the embedded
// web client, all behind one set of security headers and one guard (the
// Host check and the per-address limits, guard.go and iplimit.go).
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/store"
)

// Options wires the handler to the rest of the server.
type Options struct {
	Rooms       *room.Manager
	Transcripts Transcripts
	Signal      http.Handler // GET /ws
	Gatherer    prometheus.Gatherer
	// MetricsToken, when set, serves Gatherer's metrics at GET /metrics
	// to requests with "Authorization: Bearer <token>"; without it the
	// path is 404 here (the metrics listener serves them: Internal).
	MetricsToken string
	// Registerer receives the HTTP layer's own counters (optional).
	Registerer prometheus.Registerer
	// PublicURL is the base URL for links in API answers (empty: from the
	// request); when set, requests for another host name are refused.
	PublicURL string
	// NodeURL, when the public URL is a site several nodes share, is this
	// node's own address: requests for its host are answered too.
	NodeURL string
	// Limits bound what one client address may ask (iplimit.go).
	Limits AddrLimits
	// WriteTimeout is the http.Server's write timeout; responses move the
	// deadline on as they make progress (guard.go). 0: left alone.
	WriteTimeout time.Duration
	Logger       *slog.Logger
	// Ready reports whether the server takes new meetings (false while
	// draining on shutdown).
	Ready func() bool
	// Place, with several nodes, returns where a room's signalling
	// socket is ("" on this node); the join answer names it.
	Place func(ctx context.Context, roomID string) (signalURL string, err error)
	// Peers lists the other nodes' signalling socket URLs (ws://host or
	// wss://host), which pages may connect to.
	Peers func() []string
	// Web serves the client pages and assets (nil: none).
	Web http.Handler
	// Auth identifies requests and checks them against CSRF (required).
	Auth *auth.Service
	// Store keeps rooms, grants and the audit log (required).
	Store RoomStore
	// Keys signs join tokens (required).
	Keys *access.Keys
	// DeleteMeeting forgets a meeting: rows, files, an audit row with by
	// (nil: meetings cannot be deleted, as without a transcript store).
	DeleteMeeting func(ctx context.Context, id string, by store.AuditEntry) error
	// Uploads takes recordings to transcribe (POST /api/transcriptions).
	Uploads UploadOptions
	// Recordings holds meetings' recordings (nil: recording is off).
	Recordings objects.Store
	// Summaries queues meeting summaries (nil: no language model is
	// configured, and none is ever asked for).
	Summaries Summaries
}

// New returns the server's HTTP handler.
func New(o Options) http.Handler {
	if o.Auth == nil || o.Store == nil || o.Keys == nil {
		panic("httpapi: Options.Auth, Store and Keys are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if o.Ready != nil && !o.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("draining\n"))
			return
		}
		w.Write([]byte("ready\n"))
	})
	g := newGuard(mux, o)
	var metrics http.Handler = http.NotFoundHandler()
	if o.Gatherer != nil {
		metrics = promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})
	}
	// Registered even without a token: the web client's catch-all would
	// otherwise answer /metrics with a page.
	mux.Handle("GET /metrics", g.bearerMetrics(o.MetricsToken, metrics))
	mux.Handle("GET /ws", o.Signal)
	a := &api{o: o}
	sessionRoutes(mux, o.Auth)
	mux.HandleFunc("POST /api/rooms", a.createRoom)
	mux.HandleFunc("GET /api/rooms", a.myRooms)
	mux.HandleFunc("GET /api/rooms/{id}", a.roomInfo)
	mux.HandleFunc("POST /api/rooms/{id}/join", a.join)
	mux.HandleFunc("GET /api/rooms/{id}/settings", a.settings)
	mux.HandleFunc("PATCH /api/rooms/{id}/settings", a.settings)
	mux.HandleFunc("GET /api/rooms/{id}/audit", a.auditLog)
	mux.HandleFunc("POST /api/rooms/{id}/transcription", a.transcription)
	mux.HandleFunc("GET /api/meetings/{id}/transcript", func(w http.ResponseWriter, r *http.Request) {
		// Outsiders get the answer a meeting that does not exist gets.
		g, ok := a.reader(r, r.PathValue("id"))
		if !ok {
			writeError(w, errNoMeeting)
			return
		}
		if r.Method == http.MethodGet {
			a.audit(r, g.RoomID, g.Subject, "", "transcript_download", r.PathValue("id")+" "+r.URL.Query().Get("format"))
		}
		serveTranscript(w, r, o.Transcripts)
	})
	mux.HandleFunc("GET /api/meetings/{id}/revisions", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := a.reader(r, r.PathValue("id")); !ok || o.Transcripts == nil {
			writeError(w, errNoMeeting)
			return
		}
		revs, err := o.Transcripts.Revisions(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, errNoMeeting)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{"revisions": revs})
	})
	mux.HandleFunc("DELETE /api/meetings/{id}", a.deleteMeeting)
	mux.HandleFunc("GET /api/meetings/{id}/recording", a.recording)
	mux.HandleFunc("POST /api/search", a.search)
	mux.HandleFunc("POST /api/meetings/list", a.listMeetings)
	mux.HandleFunc("GET /api/meetings/{id}/playback", a.playback)
	mux.HandleFunc("GET /api/meetings/{id}/playback/{file}", a.playbackFile)
	mux.HandleFunc("GET /api/meetings/{id}/summary", a.summary)
	mux.HandleFunc("POST /api/meetings/{id}/summary", a.regenerateSummary)
	mux.HandleFunc("GET /api/meetings/{id}/edits", a.edits)
	mux.HandleFunc("POST /api/meetings/{id}/edits", a.edit)
	mux.HandleFunc("POST /api/transcriptions", a.upload)
	mux.HandleFunc("GET /api/transcriptions/{id}", a.uploadStatus)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, signal.NewError(signal.CodeNotFound, "no such API endpoint"))
	})
	if o.Web != nil {
		mux.Handle("/", o.Web)
	}
	return securityHeaders(g, o.Peers)
}

// securityHeaders sets the headers every response carries: a strict CSP
// (our own origin only, no inline script), no MIME sniffing, no referrer
// leaking room ids to other sites, and devices limited to our own pages.
//
// With several nodes (peers), the page may also open its signalling
// socket on another node: connect-src names their socket URLs.
func securityHeaders(next http.Handler, peers func() []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		connect := "'self'"
		if peers != nil {
			for _, p := range peers() {
				connect += " " + p
			}
		}
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "+
			"media-src 'self' blob: mediastream:; connect-src "+connect+"; font-src 'self'; object-src 'none'; base-uri 'none'; "+
			"frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=()")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

func baseURL(public string, r *http.Request) string {
	if public != "" {
		return strings.TrimRight(public, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// errorBody is the REST API's error answer: the error's text, and its code
// and name from the registry the signalling socket's errors use.
type errorBody struct {
	Error string      `json:"error"`
	Code  signal.Code `json:"code"`
	Name  string      `json:"name"`
}

// writeError answers with the HTTP status of the error's code.
func writeError(w http.ResponseWriter, err error) {
	code := signal.CodeOf(err)
	msg := err.Error()
	if code == signal.CodeInternal {
		// As on the WebSocket: a server fault's text (paths, SQL) stays
		// in the log.
		msg = "internal error"
	}
	writeJSON(w, code.HTTPStatus(), errorBody{Error: msg, Code: code, Name: code.String()})
}
