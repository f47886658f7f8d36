package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/room"
)

func httpGet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// csrf is a well-formed CSRF token, sent as cookie and header.
const csrf = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

func TestHTTPAPI(t *testing.T) {
	srv := start(t)
	req, _ := http.NewRequest("POST", srv.URL()+"/api/rooms", nil)
	req.Header.Set("X-Parley-CSRF", csrf)
	req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: csrf})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID, URL      string
		CreatorToken string `json:"creator_token"`
	}
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !room.ValidRoomID(created.ID) || !strings.HasSuffix(created.URL, "/"+created.ID) || created.CreatorToken == "" {
		t.Fatalf("POST /api/rooms: %d %+v", resp.StatusCode, created)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Permissions-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("missing security header %s", h)
		}
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q", got)
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/api/rooms/" + created.ID: 200, "/api/rooms/NOPE": 404, "/api/nothing": 404} {
		if code, err := httpGet(srv.URL() + path); err != nil || code != want {
			t.Errorf("GET %s: %d %v, want %d", path, code, err, want)
		}
	}
	r, err := http.Get("http://" + srv.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, name := range []string{"parley_rooms", "parley_participants", "parley_tracks_published", "parley_rtp_packets_forwarded_total",
		"parley_rtp_bytes_forwarded_total", `parley_rtp_packets_dropped_total{reason="muted"}`, "parley_nack_total", "parley_pli_total",
		"go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// apiCall makes a same-origin JSON request with the CSRF token and, when
// given, a meeting key; it returns the status and the decoded answer.
func apiCall(t *testing.T, srv *Server, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Parley-CSRF", csrf)
	req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: csrf})
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
