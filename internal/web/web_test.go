package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/parleyhq/parley/internal/web"
)

func newHandler(t testing.TB) *web.Handler {
	t.Helper()
	h, err := web.New(web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRoutes(t *testing.T) {
	h := newHandler(t)
	prefix := "/static/" + h.Version()
	for _, c := range []struct {
		path   string
		status int
		ctype  string
		body   string
	}{
		{"/", 200, "text/html; charset=utf-8", `id="new-meeting"`},
		{"/abcd-efghi-jklm", 200, "text/html; charset=utf-8", `id="display-name"`},
		{"/ab-cd", 200, "text/html; charset=utf-8", `id="join"`},
		{prefix + "/js/app.js", 200, "text/javascript; charset=utf-8", "import"},
		{prefix + "/css/parley.css", 200, "text/css; charset=utf-8", ":root"},
		{prefix + "/img/icon.svg", 200, "image/svg+xml", "<svg"},
		{"/static/0123456789ab/js/app.js", 200, "text/javascript; charset=utf-8", "import"},
		{"/ABCD-efghi", 404, "text/html; charset=utf-8", "not found"},
		{"/abcd-efghi/x", 404, "", ""},
		{"/a", 404, "", ""},
		{"/home.html", 404, "", ""},
		{"/meeting.html", 404, "", ""},
		{prefix + "/meeting.html", 404, "", ""},
		{prefix + "/js/nope.js", 404, "", ""},
		{prefix + "/../home.html", 404, "", ""},
		{prefix, 404, "", ""},
		{"/static/", 404, "", ""},
		{"/favicon.ico", 301, "", ""},
		{"/transcribe", 200, "text/html; charset=utf-8", `id="upload-form"`},
		{"/meetings", 200, "text/html; charset=utf-8", `id="search-form"`},
		{"/meetings/MT_abc123", 200, "text/html; charset=utf-8", `id="transcript"`},
		{"/meetings/", 404, "", ""},
		{"/meetings/MT_", 404, "", ""},
		{"/meetings/MT_a/b", 404, "", ""},
		{"/meetings/../meetings", 404, "", ""},
		{"/viewer.html", 404, "", ""},
	} {
		w := get(h, c.path)
		if w.Code != c.status {
			t.Errorf("GET %s: %d, want %d", c.path, w.Code, c.status)
			continue
		}
		if c.ctype != "" && w.Header().Get("Content-Type") != c.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", c.path, w.Header().Get("Content-Type"), c.ctype)
		}
		if c.body != "" && !strings.Contains(strings.ToLower(w.Body.String()), strings.ToLower(c.body)) {
			t.Errorf("GET %s: body lacks %q", c.path, c.body)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", w.Code)
	}
}

func TestCaching(t *testing.T) {
	h := newHandler(t)
	page := get(h, "/")
	if cc := page.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("page Cache-Control %q: pages must revalidate to pick up a new version", cc)
	}
	// Pages point at the current version's assets.
	if !strings.Contains(page.Body.String(), `src="/static/`+h.Version()+`/js/home.js"`) || strings.Contains(page.Body.String(), "{{static}}") {
		t.Errorf("home page does not reference versioned assets:\n%s", page.Body.String())
	}
	asset := get(h, "/static/"+h.Version()+"/js/room.js")
	if cc := asset.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("versioned asset Cache-Control %q", cc)
	}
	old := get(h, "/static/000000000000/js/room.js")
	if cc := old.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("asset of another version: Cache-Control %q, want no-cache", cc)
	}
	etag := asset.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if w := get(h, "/static/"+h.Version()+"/js/room.js", "If-None-Match", etag); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d with %d bytes", w.Code, w.Body.Len())
	}
	if w := get(h, "/", "If-None-Match", page.Header().Get("ETag")); w.Code != http.StatusNotModified {
		t.Errorf("page If-None-Match: %d", w.Code)
	}
	// gzip when asked, identical content.
	z := get(h, "/static/"+h.Version()+"/js/room.js", "Accept-Encoding", "br, gzip")
	if z.Header().Get("Content-Encoding") != "gzip" || z.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("no gzip: %v", z.Header())
	}
	zr, err := gzip.NewReader(z.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, asset.Body.Bytes()) || z.Body.Len() >= asset.Body.Len() {
		t.Errorf("gzip body: %d bytes for %d plain, equal=%v", z.Body.Len(), asset.Body.Len(), bytes.Equal(plain, asset.Body.Bytes()))
	}
	if w := get(h, "/static/"+h.Version()+"/js/room.js", "Accept-Encoding", "gzip;q=0"); w.Header().Get("Content-Encoding") != "" {
		t.Error("gzip sent although refused with q=0")
	}
}

func TestVersionFollowsContent(t *testing.T) {
	files := fstest.MapFS{
		"home.html":       {Data: []byte(`<script src="{{static}}/a.js"></script>`)},
		"meeting.html":    {Data: []byte(`m`)},
		"transcribe.html": {Data: []byte(`t`)},
		"meetings.html":   {Data: []byte(`l`)},
		"viewer.html":     {Data: []byte(`v`)},
		"404.html":        {Data: []byte(`x`)},
		"a.js":            {Data: []byte(`1`)},
	}
	a, err := web.New(web.Options{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	files["a.js"] = &fstest.MapFile{Data: []byte(`2`)}
	b, err := web.New(web.Options{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	if a.Version() == b.Version() {
		t.Error("changing a file does not change the asset version")
	}
	delete(files, "404.html")
	if _, err := web.New(web.Options{Files: files}); err == nil {
		t.Error("a client without its 404 page loads")
	}
}

// TestNoThirdPartyOrInlineCode reads every client file: no URL of another
// origin (no CDN, fonts, analytics), no inline script or style, no inline
// event handler, and no HTML parsing of strings in the scripts.
func TestNoThirdPartyOrInlineCode(t *testing.T) {
	root := "static"
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	allowed := map[string]bool{"http://www.w3.org": true} // the SVG namespace, never fetched
	inlineScript := regexp.MustCompile(`(?is)<script(?:[^>]*)>\s*[^<\s]`)
	handler := regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	styleAttr := regexp.MustCompile(`(?i)<[^>]+\sstyle\s*=`)
	htmlSinks := regexp.MustCompile(`\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(`)
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := string(b)
		for _, m := range external.FindAllString(s, -1) {
			if !allowed[m] {
				t.Errorf("%s: reference to another origin %q", p, m)
			}
		}
		if strings.HasSuffix(p, ".html") {
			if inlineScript.MatchString(s) {
				t.Errorf("%s: inline script", p)
			}
			if handler.MatchString(s) {
				t.Errorf("%s: inline event handler", p)
			}
			if styleAttr.MatchString(s) || strings.Contains(s, "<style") {
				t.Errorf("%s: inline style", p)
			}
		}
		if strings.HasSuffix(p, ".js") && htmlSinks.MatchString(s) {
			t.Errorf("%s: %q parses strings as HTML or code", p, htmlSinks.FindString(s))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("only %d files checked", n)
	}
}

// TestStrings checks the one string table: both languages have the same
// keys, and every key the pages and scripts use exists.
func TestStrings(t *testing.T) {
	src, err := os.ReadFile("static/js/strings.js")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	i, j := strings.Index(s, "/* BEGIN STRINGS */"), strings.Index(s, "/* END STRINGS */")
	if i < 0 || j < i {
		t.Fatal("strings.js lacks its BEGIN/END markers")
	}
	var table map[string]map[string]string
	if err := json.Unmarshal([]byte(s[i+len("/* BEGIN STRINGS */"):j]), &table); err != nil {
		t.Fatalf("strings.js is not strict JSON: %v", err)
	}
	en, fr := table["en"], table["fr"]
	if len(en) < 100 {
		t.Fatalf("only %d English strings", len(en))
	}
	for k := range en {
		if _, ok := fr[k]; !ok {
			t.Errorf("French lacks %q", k)
		}
	}
	for k := range fr {
		if _, ok := en[k]; !ok {
			t.Errorf("English lacks %q", k)
		}
	}
	placeholders := regexp.MustCompile(`\{(\w+)\}`)
	for k, v := range en {
		a, b := placeholders.FindAllString(v, -1), placeholders.FindAllString(fr[k], -1)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Errorf("%q: placeholders differ: en %v, fr %v", k, a, b)
		}
	}
	// Keys used: t('key'), tn('key', n) (key_one/key_other), data-i18n*="key",
	// and the keys built from a prefix (quality_, micError_, …) or listed
	// in tables (REACTIONS, SHORTCUTS, ENDED, FORMAT_LABELS).
	used := map[string]bool{}
	call := regexp.MustCompile(`\bt\('([A-Za-z_]+)'`)
	plural := regexp.MustCompile(`\btn\('([A-Za-z_]+)'`)
	attr := regexp.MustCompile(`data-i18n(?:-label|-title|-placeholder)?="([A-Za-z_]+)"`)
	listed := regexp.MustCompile(`'((?:react|shortcut|ended|format)[A-Z][A-Za-z]+)'`)
	notices := regexp.MustCompile(`key: '([A-Za-z]+)'`)
	files, _ := filepath.Glob("static/js/*.js")
	pages, _ := filepath.Glob("static/*.html")
	for _, f := range append(files, pages...) {
		if strings.HasSuffix(f, "strings.js") {
			continue
		}
		b, _ := os.ReadFile(f)
		for _, re := range []*regexp.Regexp{call, attr, listed, notices} {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				if len(m[1]) > 1 && !strings.HasSuffix(m[1], "_") { // prefixes: listed below
					used[m[1]] = true
				}
			}
		}
		for _, m := range plural.FindAllStringSubmatch(string(b), -1) {
			used[m[1]+"_one"] = true
			used[m[1]+"_other"] = true
		}
	}
	for _, prefix := range []string{"quality_good", "quality_fair", "quality_poor", "quality_unknown"} {
		used[prefix] = true
	}
	for _, kind := range []string{"denied", "nodevice", "inuse", "insecure", "other"} {
		used["micError_"+kind] = true
		used["cameraError_"+kind] = true
	}
	for k := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is used but not in the table", k)
		}
	}
	if len(used) < 100 {
		t.Errorf("only %d keys found in use: the scan is broken", len(used))
	}
}

// FuzzHandler: any path and header values give a well-formed answer.
func FuzzHandler(f *testing.F) {
	h := newHandler(f)
	for _, s := range []string{"/", "/abcd-efghi-jklm", "/static/" + h.Version() + "/js/app.js", "/static/x/../../etc/passwd", "/%00", "/static//js"} {
		f.Add(s, "gzip", `"x"`)
	}
	f.Fuzz(func(t *testing.T, path, enc, etag string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path = path
		r.Header.Set("Accept-Encoding", enc)
		r.Header.Set("If-None-Match", etag)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200, 301, 304, 404:
		default:
			t.Fatalf("%q: status %d", path, w.Code)
		}
		if w.Code == 200 && w.Header().Get("Content-Type") == "" {
			t.Fatalf("%q: no Content-Type", path)
		}
	})
}

// TestSecurityHeaders: every page and asset, served by the real server,
// carries a strict CSP without 'unsafe-inline' and the other headers.
func TestSecurityHeaders(t *testing.T) {
	srv, _ := startServer(t)
	h := newHandler(t)
	for _, path := range []string{"/", "/abcd-efghi-jklm", "/static/" + h.Version() + "/js/app.js", "/static/" + h.Version() + "/css/meeting.css", "/no/such/page"} {
		resp, err := http.Get(srv.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
			t.Errorf("%s: CSP %q allows inline code or another origin", path, csp)
		}
		pp := resp.Header.Get("Permissions-Policy")
		for _, want := range []string{"camera=(self)", "microphone=(self)", "display-capture=(self)"} {
			if !strings.Contains(pp, want) {
				t.Errorf("%s: Permissions-Policy %q lacks %s", path, pp, want)
			}
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
	}
}
