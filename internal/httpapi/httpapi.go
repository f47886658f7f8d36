// Package httpapi serves Parley's HTTP surface: the REST API, the
// signalling WebSocket, health and metrics endpoints, and the embedded
// web client, all behind one set of security headers.
package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/signal"
)

// Options wires the handler to the rest of the server.
type Options struct {
	Rooms       *room.Manager
	Transcripts Transcripts
	Signal      http.Handler // GET /ws
	Gatherer    prometheus.Gatherer
	PublicURL   string // base URL for links in API answers; empty = from the request
	Logger      *slog.Logger
	// Ready reports whether the server takes new meetings (false while
	// draining on shutdown).
	Ready func() bool
	// Web serves the client pages and assets (nil: none).
	Web http.Handler
	// Auth identifies requests and serves sign-in (nil: open mode).
	Auth *auth.Service
}

// New returns the server's HTTP handler.
func New(o Options) http.Handler {
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
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	}
	mux.Handle("GET /ws", o.Signal)
	if o.Auth == nil {
		o.Auth = auth.NewOpen(o.PublicURL)
	}
	sessionRoutes(mux, o.Auth)
	mux.HandleFunc("POST /api/rooms", func(w http.ResponseWriter, r *http.Request) {
		if o.Ready != nil && !o.Ready() {
			writeError(w, room.ErrShuttingDown)
			return
		}
		id := room.NewRoomID()
		writeJSON(w, http.StatusCreated, map[string]string{"id": id, "url": baseURL(o.PublicURL, r) + "/" + id})
	})
	mux.HandleFunc("GET /api/rooms/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !room.ValidRoomID(id) {
			writeError(w, room.ErrInvalidRoomID)
			return
		}
		n := o.Rooms.Participants(id)
		out := map[string]any{"id": id, "active": n > 0, "participants": n, "url": baseURL(o.PublicURL, r) + "/" + id}
		if rm, ok := o.Rooms.Room(id); ok {
			out["meeting_id"] = rm.MeetingID()
			out["transcription"] = signal.Transcription(rm.Transcription())
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /api/rooms/{id}/transcription", func(w http.ResponseWriter, r *http.Request) {
		rm, ok := o.Rooms.Room(r.PathValue("id"))
		if !ok {
			writeError(w, signal.NewError(signal.CodeNotFound, "no meeting in progress in this room"))
			return
		}
		var body struct {
			Enabled *bool `json:"enabled"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&body); err != nil || body.Enabled == nil {
			writeError(w, signal.NewError(signal.CodeInvalidField, `want {"enabled": true|false}`))
			return
		}
		if err := rm.SetTranscription(*body.Enabled, nil); err != nil {
			if signal.CodeOf(err) == signal.CodeInternal {
				o.Logger.Error("transcription change failed", "room", rm.ID(), "err", err)
			}
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, signal.Transcription(rm.Transcription()))
	})
	mux.HandleFunc("GET /api/meetings/{id}/transcript", func(w http.ResponseWriter, r *http.Request) {
		serveTranscript(w, r, o.Transcripts)
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, signal.NewError(signal.CodeNotFound, "no such API endpoint"))
	})
	if o.Web != nil {
		mux.Handle("/", o.Web)
	}
	return securityHeaders(mux)
}

// securityHeaders sets the headers every response carries: a strict CSP
// (our own origin only, no inline script), no MIME sniffing, no referrer
// leaking room ids to other sites, and devices limited to our own pages.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "+
			"media-src 'self' blob: mediastream:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "+
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
