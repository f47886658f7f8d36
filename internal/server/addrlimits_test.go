package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/config"
)

// from returns an HTTP client whose connections leave from the loopback
// address ip (all of 127.0.0.0/8 is loopback on Linux): a second client
// address without leaving the machine.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
}

// counter reads one labelled sample of a counter from the server's
// registry.
func counter(t *testing.T, srv *Server, name, reason string) float64 {
	t.Helper()
	mfs, err := srv.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				if label(m, "reason") == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// apiError is the REST API's error body.
type apiError struct {
	Error string
	Code  int
	Name  string
}

// do sends one request and returns its status, Retry-After and error
// body (zero for a success).
func do(t *testing.T, c *http.Client, method, url string, header http.Header) (int, string, apiError) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if method != "GET" {
		// The CSRF token state-changing requests carry (as cookie and
		// header), so that only the limit under test refuses them.
		req.Header.Set("X-Parley-CSRF", csrf)
		req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: csrf})
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apiError
	if resp.StatusCode >= 400 {
		json.NewDecoder(resp.Body).Decode(&e)
	}
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), e
}

// heapNow is the live heap after a collection.
func heapNow() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// goroutinesBackTo waits up to d for the goroutine count to fall to at
// most n, and returns the last count.
func goroutinesBackTo(n int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		g := runtime.NumGoroutine()
		if g <= n || time.Now().After(deadline) {
			return g
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// letters spells i (below 676) as two letters, for room ids.
func letters(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }

func wsURL(srv *Server) string { return "ws://" + srv.Addr() + "/ws" }

// TestSocketFloodFromOneAddress: 200 signalling sockets from one address;
// the first 50 open, the rest are refused before the upgrade with
// too_many_sockets and a Retry-After. Another address still gets in,
// closing one socket frees a place, and the refused attempts leave no
// goroutine or memory behind.
func TestSocketFloodFromOneAddress(t *testing.T) {
	srv := start(t)
	heap0, g0 := heapNow(), runtime.NumGoroutine()
	var open []*websocket.Conn
	t.Cleanup(func() {
		for _, c := range open {
			c.CloseNow()
		}
	})
	refused := 0
	ctx := ctxT(t, 20*time.Second)
	for i := range 200 {
		c, resp, err := websocket.Dial(ctx, wsURL(srv), nil)
		if err == nil {
			open = append(open, c)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("socket %d: %v (%v)", i+1, err, resp)
		}
		if refused == 0 {
			var e apiError
			json.NewDecoder(resp.Body).Decode(&e)
			if e.Code != 4030 || e.Name != "too_many_sockets" || len(open) != 50 {
				t.Fatalf("first refusal after %d sockets: %+v", len(open), e)
			}
		}
		refused++
	}
	heap1, g1 := heapNow(), runtime.NumGoroutine()
	t.Logf("200 sockets: %d open, %d refused; heap %d → %d kB, goroutines %d → %d", len(open), refused, heap0>>10, heap1>>10, g0, g1)
	if len(open) != 50 || refused != 150 || counter(t, srv, "parley_http_refused_total", "sockets") != 150 {
		t.Fatalf("%d open, %d refused, %v counted", len(open), refused, counter(t, srv, "parley_http_refused_total", "sockets"))
	}
	// 50 open sockets cost a few goroutines each on both ends (this test
	// holds the clients); 150 refusals must cost none.
	if g1 > g0+50*6 || heap1 > heap0+20<<20 {
		t.Fatalf("goroutines %d → %d, heap %d → %d kB for 50 open sockets", g0, g1, heap0>>10, heap1>>10)
	}
	other := &websocket.DialOptions{HTTPClient: from("127.0.0.2")}
	c, _, err := websocket.Dial(ctx, wsURL(srv), other)
	if err != nil {
		t.Fatalf("another address refused: %v", err)
	}
	c.CloseNow()
	open[0].Close(websocket.StatusNormalClosure, "")
	open = open[1:]
	var reopened *websocket.Conn
	for range 50 { // the server counts the socket out when its handler returns
		if reopened, _, err = websocket.Dial(ctx, wsURL(srv), nil); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("a place freed by a closed socket was not given back: %v", err)
	}
	open = append(open, reopened)
	for _, c := range open {
		c.CloseNow()
	}
	open = nil
	if g := goroutinesBackTo(g0+5, 5*time.Second); g > g0+5 {
		t.Fatalf("%d goroutines after every socket closed, %d before", g, g0)
	}
}

// TestProbeFloodFromOneAddress: 100 room look-ups as fast as one client
// sends them; 20 pass at once and then 5 a second, the rest are answered
// too_many_requests with a Retry-After. A join request counts against the
// same budget (matched by its path, whatever handler serves it), and
// another address has a budget of its own.
func TestProbeFloodFromOneAddress(t *testing.T) {
	srv := start(t)
	c := from("127.0.0.1")
	base := "http://" + srv.Addr()
	heap0, g0 := heapNow(), runtime.NumGoroutine()
	start := time.Now()
	ok, limited := 0, 0
	for i := range 100 {
		status, retry, e := do(t, c, "GET", base+"/api/rooms/probe-room-"+letters(i), nil)
		switch status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			if n, err := strconv.Atoi(retry); err != nil || n < 1 || e.Code != 4031 || e.Name != "too_many_requests" {
				t.Fatalf("refusal: Retry-After %q, %+v", retry, e)
			}
			limited++
		default:
			t.Fatalf("probe %d: %d %+v", i, status, e)
		}
	}
	elapsed := time.Since(start)
	if most := 20 + int(5*elapsed.Seconds()) + 1; ok < 20 || ok > most {
		t.Fatalf("%d of 100 probes passed in %v, want 20 to %d", ok, elapsed, most)
	}
	if got := counter(t, srv, "parley_http_refused_total", "joins"); int(got) != limited {
		t.Fatalf("%d refused, %v counted", limited, got)
	}
	if status, _, e := do(t, c, "POST", base+"/api/rooms/probe-room-aa/join", nil); status != http.StatusTooManyRequests || e.Code != 4031 {
		t.Fatalf("join request with the budget spent: %d %+v", status, e)
	}
	if status, _, _ := do(t, from("127.0.0.2"), "GET", base+"/api/rooms/probe-room-aa", nil); status != http.StatusOK {
		t.Fatalf("another address: %d", status)
	}
	c.CloseIdleConnections()
	heap1, g1 := heapNow(), goroutinesBackTo(g0+4, 3*time.Second)
	t.Logf("%d passed, %d refused in %v; heap %d → %d kB, goroutines %d → %d", ok, limited, elapsed, heap0>>10, heap1>>10, g0, g1)
	if g1 > g0+4 || heap1 > heap0+4<<20 {
		t.Fatalf("goroutines %d → %d, heap %d → %d kB after 100 probes", g0, g1, heap0>>10, heap1>>10)
	}
}

// TestRoomCreationFlood: 30 room creations from one address; 10 pass,
// then one every 6 s. Behind a trusted proxy each client named in
// X-Forwarded-For has its own budget; from an untrusted peer the header
// changes nothing.
func TestRoomCreationFlood(t *testing.T) {
	create := func(srv *Server, xff string) (int, string) {
		var h http.Header
		if xff != "" {
			h = http.Header{"X-Forwarded-For": {xff}}
		}
		status, retry, _ := do(t, from("127.0.0.1"), "POST", "http://"+srv.Addr()+"/api/rooms", h)
		return status, retry
	}
	srv := start(t)
	heap0 := heapNow()
	created := 0
	for i := range 30 {
		// A spoofed header from a peer that is no proxy of ours.
		switch status, retry := create(srv, fmt.Sprint("198.51.100.", i)); status {
		case http.StatusCreated:
			created++
		case http.StatusTooManyRequests:
			if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 6 {
				t.Fatalf("Retry-After %q, want 1 to 6 s", retry)
			}
		default:
			t.Fatalf("creation %d: %d", i, status)
		}
	}
	if created != 10 || counter(t, srv, "parley_http_refused_total", "rooms") != 20 {
		t.Fatalf("%d of 30 created, %v refusals counted; want 10 and 20", created, counter(t, srv, "parley_http_refused_total", "rooms"))
	}
	if status, _, _ := do(t, from("127.0.0.2"), "POST", "http://"+srv.Addr()+"/api/rooms", nil); status != http.StatusCreated {
		t.Fatalf("another address: %d", status)
	}
	heap1 := heapNow()
	t.Logf("30 creations: heap %d → %d kB", heap0>>10, heap1>>10)
	if heap1 > heap0+4<<20 {
		t.Fatalf("heap %d → %d kB after 30 creations", heap0>>10, heap1>>10)
	}

	proxied := start(t, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1"} })
	for i := range 30 {
		if status, _ := create(proxied, fmt.Sprint("198.51.100.", i)); status != http.StatusCreated {
			t.Fatalf("client %d behind the proxy: %d", i, status)
		}
	}
	created = 0
	for range 12 {
		if status, _ := create(proxied, "203.0.113.5"); status == http.StatusCreated {
			created++
		}
	}
	if created != 10 {
		t.Fatalf("one client behind the proxy created %d rooms of 12, want 10", created)
	}
}

// joinRaw joins on a bare socket (no media) and returns the joined or
// error message's type and code.
// joinRaw joins with a token signed with the server's own key (minted
// here: the join endpoint's per-address limit is not what is tested).
func joinRaw(ctx context.Context, srv *Server, c *websocket.Conn, room, name string) (string, int, error) {
	keys, err := access.LoadKeys(srv.cfg.DataDir)
	if err != nil {
		return "", 0, err
	}
	tok := keys.Sign(access.Claims{Room: room, Subject: "guest:" + name, Name: name, Role: access.RoleParticipant})
	b, _ := json.Marshal(map[string]any{"type": "join", "token": tok})
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		return "", 0, err
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return "", 0, err
		}
		var m struct {
			Type string
			Code int
		}
		json.Unmarshal(b, &m)
		if m.Type == "joined" || m.Type == "error" {
			return m.Type, m.Code, nil
		}
	}
}

// TestServerCapsUnderFlood: with room for 3 rooms and 10 participants, a
// fourth room is refused too_many_rooms, the eleventh participant
// server_full, and a flood of 30 more joins is refused alike and leaves
// nothing behind once those sockets close.
func TestServerCapsUnderFlood(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.Limits.MaxRooms, c.Limits.MaxParticipants = 3, 10 })
	ctx := ctxT(t, 30*time.Second)
	var conns []*websocket.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.CloseNow()
		}
	})
	join := func(room string) (string, int) {
		c, _, err := websocket.Dial(ctx, wsURL(srv), nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		typ, code, err := joinRaw(ctx, srv, c, room, fmt.Sprint("P", len(conns)))
		if err != nil {
			t.Fatal(err)
		}
		return typ, code
	}
	for i := range 3 {
		if typ, code := join("caps-room-" + letters(i)); typ != "joined" {
			t.Fatalf("room %d: %s %d", i, typ, code)
		}
	}
	if typ, code := join("caps-room-" + letters(3)); code != 4033 {
		t.Fatalf("fourth room: %s %d, want error 4033", typ, code)
	}
	for i := range 7 {
		if typ, code := join("caps-room-" + letters(0)); typ != "joined" {
			t.Fatalf("participant %d: %s %d", 4+i, typ, code)
		}
	}
	g0, heap0 := runtime.NumGoroutine(), heapNow()
	joined := len(conns)
	for i := range 30 {
		if typ, code := join("caps-room-" + letters(i%5)); code != 4032 {
			t.Fatalf("join %d past the cap: %s %d, want error 4032", i, typ, code)
		}
	}
	for _, c := range conns[joined:] {
		c.CloseNow()
	}
	conns = conns[:joined]
	g1 := goroutinesBackTo(g0+3, 5*time.Second)
	heap1 := heapNow()
	t.Logf("30 refused joins: goroutines %d → %d, heap %d → %d kB", g0, g1, heap0>>10, heap1>>10)
	if g1 > g0+3 || heap1 > heap0+4<<20 {
		t.Fatalf("refused joins left goroutines %d → %d, heap %d → %d kB", g0, g1, heap0>>10, heap1>>10)
	}
	full, rooms := counter(t, srv, "parley_joins_refused_total", "server_full"), counter(t, srv, "parley_joins_refused_total", "too_many_rooms")
	if full != 30 || rooms != 1 {
		t.Fatalf("counted server_full %v, too_many_rooms %v; want 30 and 1", full, rooms)
	}
	if rooms, people := srv.Rooms.Stats(); rooms != 3 || people != 10 {
		t.Fatalf("%d rooms, %d participants; want 3 and 10", rooms, people)
	}
}
