package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/transcript"
)

// shortTimeouts sets every HTTP timeout to 1 s.
func shortTimeouts(c *config.Config) {
	c.Limits.HTTPReadTimeout, c.Limits.HTTPWriteTimeout, c.Limits.HTTPIdleTimeout = time.Second, time.Second, time.Second
}

// TestHTTPTimeoutsSpareTheSocket: with the HTTP read, write and idle
// timeouts at 1 s, a joined signalling socket lives on for 3 s, quiet
// for 1.5 s at a time, and answers every ping.
func TestHTTPTimeoutsSpareTheSocket(t *testing.T) {
	srv := start(t, shortTimeouts)
	c := dial(t, srv)
	ctx := ctxT(t, 10*time.Second)
	if _, err := c.Join(ctx, "timeout-room", "Ada"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	pongs := 0
	for time.Since(t0) < 3*time.Second {
		if err := c.Send(map[string]any{"type": "ping"}); err != nil {
			t.Fatalf("after %v: %v", time.Since(t0), err)
		}
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		seen := 0 // pongs so far; this ping's is one more
		_, err := c.WaitFor(wctx, func(m client.Message) bool {
			if m.Type == "pong" {
				seen++
			}
			return seen > pongs
		})
		cancel()
		if err != nil {
			t.Fatalf("no pong %v after joining: %v", time.Since(t0), err)
		}
		pongs++
		time.Sleep(1500 * time.Millisecond)
	}
	if closedSoon(c, 100*time.Millisecond) {
		t.Fatal("the socket was closed")
	}
	t.Logf("%d pongs over %v with 1 s HTTP timeouts", pongs, time.Since(t0).Round(time.Millisecond))
}

// TestHTTPTimeoutsCloseIdleAndSlowConnections: a keep-alive connection
// left idle, and a request whose body never comes, are closed after the
// 1 s timeouts rather than held.
func TestHTTPTimeoutsCloseIdleAndSlowConnections(t *testing.T) {
	srv := start(t, shortTimeouts)
	for _, c := range []struct{ what, request string }{
		{"idle keep-alive", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"body never sent", "POST /api/rooms/timeout-room/transcription HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"},
	} {
		conn, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		conn.SetDeadline(t0.Add(5 * time.Second))
		io.WriteString(conn, c.request)
		// Whatever answer comes, the connection must then close.
		_, err = io.Copy(io.Discard, conn)
		conn.Close()
		if d := time.Since(t0); err != nil || d > 3*time.Second {
			t.Fatalf("%s: closed after %v (%v), want about 1 s", c.what, d, err)
		} else {
			t.Logf("%s: closed after %v", c.what, d.Round(time.Millisecond))
		}
	}
}

// TestSlowTranscriptDownload: a 12 MB transcript read at about 4 MB/s
// (3 s, with a small receive window so the kernel cannot take it all at
// once) arrives whole although the write timeout is 1 s: the timeout
// bounds a stalled response, not a long one.
func TestSlowTranscriptDownload(t *testing.T) {
	srv := start(t, shortTimeouts)
	ctx := ctxT(t, 30*time.Second)
	const meeting = "MT_slowdownloadtest"
	if err := srv.Store.CreateMeeting(ctx, transcript.Meeting{ID: meeting}); err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("word ", 200)
	segs := make([]transcript.Segment, 12000)
	for i := range segs {
		segs[i] = transcript.Segment{SpeakerID: "S1", Speaker: "Ada", Start: float64(i), End: float64(i) + 0.9, Text: line}
	}
	if err := srv.Store.ReplaceSegments(ctx, meeting, "S1", 0, 1e9, segs); err != nil {
		t.Fatal(err)
	}
	tr, err := srv.Store.Transcript(ctx, meeting)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := transcript.Write(&want, tr, transcript.Text); err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
		return serr
	}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableCompression: true}}
	key, hash := access.NewMeetingKey()
	if err := srv.Store.GrantMeeting(ctx, store.Grant{MeetingID: meeting, RoomID: "slow-download-room", Subject: "guest:reader", KeyHash: hash, Role: "participant"}); err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get("http://" + srv.Addr() + "/api/meetings/" + meeting + "/transcript?format=txt&key=" + key)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	t0 := time.Now()
	var got bytes.Buffer
	for {
		// The body is chunked: a connection cut short is an error here,
		// not an early EOF.
		n, err := got.ReadFrom(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			t.Fatalf("after %d bytes in %v: %v", got.Len(), time.Since(t0), err)
		}
		if n == 0 {
			break
		}
		time.Sleep(15 * time.Millisecond)
	}
	elapsed := time.Since(t0)
	t.Logf("%d bytes in %v", got.Len(), elapsed.Round(time.Millisecond))
	if resp.StatusCode != http.StatusOK || want.Len() < 12e6 || !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("status %d, %d bytes; want the %d of the transcript", resp.StatusCode, got.Len(), want.Len())
	}
	if elapsed < 2*time.Second {
		t.Fatalf("read in %v: the test did not read slower than the write timeout", elapsed)
	}
}

// TestHostCheck: with a public URL, a request for another host name is
// refused with wrong_host (421), page, API and socket alike; the public
// name passes in any case, with a trailing dot or another port; health
// checks answer whatever the Host.
func TestHostCheck(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.PublicURL = "https://Meet.Example.test" })
	base := "http://" + srv.Addr()
	for _, c := range []struct {
		host, path string
		want       int
	}{
		{"meet.example.test", "/api/rooms/host-room", http.StatusOK},
		{"MEET.example.test.", "/api/rooms/host-room", http.StatusOK},
		{"meet.example.test:8443", "/", http.StatusOK},
		{"evil.example", "/api/rooms/host-room", http.StatusMisdirectedRequest},
		{"evil.example", "/", http.StatusMisdirectedRequest},
		{"evil.example", "/ws", http.StatusMisdirectedRequest},
		{"meet.example.test.evil.example", "/api/rooms", http.StatusMisdirectedRequest},
		{srv.Addr(), "/api/rooms/host-room", http.StatusMisdirectedRequest},
		{srv.Addr(), "/healthz", http.StatusOK},
		{"evil.example", "/readyz", http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", base+c.path, nil)
		req.Host = c.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("Host %s, %s: %d, want %d", c.host, c.path, resp.StatusCode, c.want)
		}
		if c.want == http.StatusMisdirectedRequest && !strings.Contains(string(body), `"name":"wrong_host"`) {
			t.Errorf("Host %s: body %s", c.host, body)
		}
	}
	if n := counter(t, srv, "parley_http_refused_total", "host"); n != 5 {
		t.Errorf("%v refusals counted, want 5", n)
	}
}

// TestMetricsListener: /metrics and pprof are served on the metrics
// listener only; on the public one /metrics is a 404 unless the request
// carries the bearer token, and a wrong token is a 404 too.
func TestMetricsListener(t *testing.T) {
	get := func(url, token string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	srv := start(t)
	if srv.MetricsAddr() == "" || srv.MetricsAddr() == srv.Addr() {
		t.Fatalf("metrics listener %q beside %q", srv.MetricsAddr(), srv.Addr())
	}
	if code, body := get("http://"+srv.MetricsAddr()+"/metrics", ""); code != 200 || !strings.Contains(body, "parley_rooms") {
		t.Fatalf("metrics listener: %d", code)
	}
	if code, body := get("http://"+srv.MetricsAddr()+"/debug/pprof/", ""); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof on the metrics listener: %d", code)
	}
	if code, _ := get("http://"+srv.MetricsAddr()+"/debug/pprof/cmdline", ""); code == 200 {
		t.Fatal("the metrics listener prints the command line")
	}
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/goroutine?debug=1"} {
		if code, body := get(srv.URL()+path, ""); code == 200 || strings.Contains(body, "parley_rooms") || strings.Contains(body, "goroutine ") {
			t.Errorf("public listener %s: %d %.80q", path, code, body)
		}
	}

	const token = "s3cret-metrics-token-0123456789"
	withToken := start(t, func(c *config.Config) { c.MetricsToken, c.MetricsListen = token, "" })
	if withToken.MetricsAddr() != "" {
		t.Fatalf("metrics listener %q with --metrics-listen empty", withToken.MetricsAddr())
	}
	if code, body := get(withToken.URL()+"/metrics", token); code != 200 || !strings.Contains(body, "parley_rooms") {
		t.Fatalf("with the token: %d", code)
	}
	for _, wrong := range []string{"", "s3cret-metrics-token-012345678", token + "x", strings.ToUpper(token)} {
		if code, body := get(withToken.URL()+"/metrics", wrong); code != 404 || strings.Contains(body, "parley_rooms") {
			t.Errorf("token %q: %d", wrong, code)
		}
	}
	if n := counter(t, withToken, "parley_http_refused_total", "metrics_token"); n != 4 {
		t.Errorf("%v refusals counted, want 4", n)
	}
}

// TestMetricsListenTaken: a metrics address already in use stops Start
// with an error that names the flag, and releases what Start opened.
func TestMetricsListenTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t)
	cfg.MetricsListen = ln.Addr().String()
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Start()
	if err == nil || !strings.Contains(err.Error(), "metrics-listen") {
		t.Fatalf("Start: %v", err)
	}
	srv.Store.Close()
}
