// Package web is Parley's browser client: plain HTML, CSS and JavaScript
// ES modules under static/, embedded in the binary and served without a
// build step.
//
// Routes (mounted at "/" by httpapi, behind its security headers):
//
//	GET /                      home page (new meeting or room, join by code, my rooms)
//	GET /{room}                pre-join and meeting page, for a valid room id
//	GET /transcribe            upload a recording to transcribe
//	GET /meetings              my meetings, search across their transcripts
//	GET /meetings/{id}         one meeting's transcript: read, find, correct, download
//	GET /static/{version}/…    assets, cached for a year (the version changes
//	                           whenever any embedded file changes)
//
// Everything else is 404. Pages reference assets through the versioned
// prefix and modules import each other by relative path, so one version
// string covers the whole client and no file name needs a hash.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/room"
)

//go:embed static
var embedded embed.FS

// Options configures the handler.
type Options struct {
	Logger *slog.Logger
	// Files replaces the embedded client (tests); nil serves the embedded one.
	Files fs.FS
}

// placeholder is replaced in the HTML pages by the versioned asset prefix.
const placeholder = "{{static}}"

// asset is one file, held in memory with its gzip form when that is smaller.
type asset struct {
	body  []byte
	gz    []byte
	ctype string
	etag  string
}

// Handler serves the client.
type Handler struct {
	log        *slog.Logger
	version    string
	prefix     string // "/static/<version>/"
	assets     map[string]*asset
	home       *asset
	meeting    *asset
	transcribe *asset // the upload page
	meetings   *asset // my meetings and search
	viewer     *asset // one meeting's transcript
	missing    *asset
}

// New loads the client files into memory (about 150 KB) and returns the
// handler. It fails only when the file set lacks a page.
func New(o Options) (*Handler, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	files := o.Files
	if files == nil {
		sub, err := fs.Sub(embedded, "static")
		if err != nil {
			return nil, err
		}
		files = sub
	}
	raw := map[string][]byte{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		raw[p] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	h := &Handler{log: o.Logger, version: version(raw), assets: map[string]*asset{}}
	h.prefix = "/static/" + h.version + "/"
	for p, b := range raw {
		if strings.HasSuffix(p, ".html") {
			b = bytes.ReplaceAll(b, []byte(placeholder), []byte(strings.TrimSuffix(h.prefix, "/")))
		}
		h.assets[p] = newAsset(p, b)
	}
	for name, dst := range map[string]**asset{"home.html": &h.home, "meeting.html": &h.meeting, "transcribe.html": &h.transcribe,
		"meetings.html": &h.meetings, "viewer.html": &h.viewer, "404.html": &h.missing} {
		a, ok := h.assets[name]
		if !ok {
			return nil, &fs.PathError{Op: "load", Path: name, Err: fs.ErrNotExist}
		}
		*dst = a
		delete(h.assets, name) // pages are served at their routes only
	}
	return h, nil
}

// Version returns the asset version: the first 12 hex digits of a SHA-256
// over every file's path and content.
func (h *Handler) Version() string { return h.version }

func version(files map[string][]byte) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	sum := sha256.New()
	for _, n := range names {
		sum.Write([]byte(n))
		sum.Write([]byte{0})
		sum.Write(files[n])
		sum.Write([]byte{0})
	}
	return hex.EncodeToString(sum.Sum(nil))[:12]
}

func newAsset(name string, b []byte) *asset {
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		// Module scripts must have a JavaScript MIME type; with nosniff
		// the browser refuses anything else.
		ctype = "text/javascript; charset=utf-8"
	case ".html":
		ctype = "text/html; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	sum := sha256.Sum256(b)
	a := &asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	if strings.HasPrefix(ctype, "text/") || ctype == "image/svg+xml" {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		// Text compresses to about a quarter; keep gzip only when it helps.
		if buf.Len() < len(b)*9/10 {
			a.gz = buf.Bytes()
		}
	}
	return a
}

// ServeHTTP routes a request to a page or an asset.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/":
		h.page(w, r, h.home, http.StatusOK)
	case p == "/transcribe":
		h.page(w, r, h.transcribe, http.StatusOK)
	case p == "/meetings":
		h.page(w, r, h.meetings, http.StatusOK)
	case strings.HasPrefix(p, "/meetings/") && room.ValidMeetingID(strings.TrimPrefix(p, "/meetings/")):
		h.page(w, r, h.viewer, http.StatusOK)
	case strings.HasPrefix(p, "/static/"):
		h.static(w, r, strings.TrimPrefix(p, "/static/"))
	case room.ValidRoomID(strings.TrimPrefix(p, "/")):
		h.page(w, r, h.meeting, http.StatusOK)
	case p == "/favicon.ico":
		// Browsers ask for it whatever the page says; the pages link
		// the SVG icon, so point them there.
		http.Redirect(w, r, h.prefix+"img/icon.svg", http.StatusMovedPermanently)
	default:
		h.log.Debug("no such page", "path", p)
		h.page(w, r, h.missing, http.StatusNotFound)
	}
}

// page serves an HTML page. Pages are revalidated on every load (no-cache
// plus an ETag) so that a new version's asset prefix reaches browsers at
// once; the assets they reference are then cached for good.
func (h *Handler) page(w http.ResponseWriter, r *http.Request, a *asset, status int) {
	w.Header().Set("Cache-Control", "no-cache")
	if status != http.StatusOK {
		w.Header().Set("Cache-Control", "no-store")
		h.write(w, r, a, status)
		return
	}
	h.serve(w, r, a)
}

// static serves /static/{version}/{file}. A request for another version
// (a page loaded before an upgrade) gets today's file, revalidated rather
// than cached for a year, so it never pins a stale file in a cache.
func (h *Handler) static(w http.ResponseWriter, r *http.Request, rest string) {
	ver, name, ok := strings.Cut(rest, "/")
	a := h.assets[name]
	if !ok || a == nil || name != path.Clean(name) {
		h.page(w, r, h.missing, http.StatusNotFound)
		return
	}
	if ver == h.version {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	h.serve(w, r, a)
}

// serve writes an asset with its ETag, honouring If-None-Match, and in
// gzip when the client accepts it.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, a *asset) {
	w.Header().Set("ETag", a.etag)
	w.Header().Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.write(w, r, a, http.StatusOK)
}

func (h *Handler) write(w http.ResponseWriter, r *http.Request, a *asset, status int) {
	body := a.body
	if a.gz != nil && acceptsGzip(r) {
		body = a.gz
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}
