package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/parleyhq/parley/internal/signal"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         requestKind
	}{
		{"GET", "/ws", kindSocket},
		{"HEAD", "/ws", kindSocket},
		{"POST", "/ws", kindOther},
		{"GET", "/api/rooms/abc-defg-hij", kindJoin},
		{"HEAD", "/api/rooms/abc-defg-hij", kindJoin},
		{"GET", "/api/rooms/a%2Fb", kindJoin}, // one id to the mux
		{"POST", "/api/rooms/abc-defg-hij/join", kindJoin},
		{"POST", "/api/rooms/a%2Fb/join", kindJoin},
		{"POST", "/api/rooms", kindCreate},
		{"POST", "/api/search", kindJoin},
		{"POST", "/api/meetings/list", kindJoin},
		{"GET", "/api/search", kindOther},
		{"GET", "/api/rooms", kindOther},
		{"GET", "/api/rooms/", kindOther},
		{"POST", "/api/rooms/abc-defg-hij/transcription", kindOther},
		{"POST", "/api/rooms//join", kindOther},
		{"GET", "/api/rooms/x/y", kindOther},
		{"GET", "/api/meetings/MT_x/transcript", kindOther},
		{"GET", "/abc-defg-hij", kindOther},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		if got := classify(r); got != c.want {
			t.Errorf("%s %s: kind %d, want %d", c.method, c.path, got, c.want)
		}
	}
}

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"v4 peer", nil, "192.0.2.7:5000", nil, "192.0.2.7"},
		{"v4-mapped peer", nil, "[::ffff:192.0.2.7]:5000", nil, "192.0.2.7"},
		{"v6 peer counts by its /64", nil, "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:5000", nil, "2001:db8:1:2::"},
		{"untrusted peer's header ignored", nil, "192.0.2.7:5000", []string{"198.51.100.1"}, "192.0.2.7"},
		{"untrusted peer's header ignored, proxies set", proxies, "192.0.2.7:5000", []string{"198.51.100.1"}, "192.0.2.7"},
		{"trusted proxy names the client", proxies, "10.1.1.1:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client-written entries left of it prove nothing", proxies, "10.1.1.1:5000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted hops, two header lines", proxies, "10.1.1.1:5000", []string{"6.6.6.6", "198.51.100.1, 10.2.2.2"}, "198.51.100.1"},
		{"malformed entry: the proxy that passed it", proxies, "10.1.1.1:5000", []string{"nonsense, 10.2.2.2"}, "10.2.2.2"},
		{"only proxies: the farthest", proxies, "10.1.1.1:5000", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"no header: the proxy itself", proxies, "10.1.1.1:5000", nil, "10.1.1.1"},
		{"entry with a port", proxies, "10.1.1.1:5000", []string{"198.51.100.1:4444"}, "198.51.100.1"},
		{"v6 client behind a proxy", proxies, "[fd00::1]:5000", []string{"2001:db8:9:9::1"}, "2001:db8:9:9::"},
		{"not an IP peer", nil, "@", nil, "invalid IP"},
	} {
		tab := newAddrTable(AddrLimits{TrustedProxies: c.trusted})
		r := httptest.NewRequest("GET", "/ws", nil)
		r.RemoteAddr = c.remote
		for _, h := range c.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := tab.clientAddr(r).String(); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ now time.Duration }

func (c *fakeClock) get() time.Duration { return c.now }

// newTestGuard is the guard in front of a handler that answers 200.
func newTestGuard(t *testing.T, l AddrLimits) (*guard, *fakeClock) {
	t.Helper()
	g := newGuard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }), Options{Limits: l})
	clock := &fakeClock{now: time.Hour}
	g.addrs.now = clock.get
	return g, clock
}

// hit sends one request from remote through g and returns the recorder.
func hit(g http.Handler, method, path, remote string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	return w
}

func refusedCount(g *guard, reason string) float64 {
	var m dto.Metric
	g.refused.WithLabelValues(reason).Write(&m)
	return m.GetCounter().GetValue()
}

// checkRefusal checks a 429 with the API's error body, the code and a
// Retry-After of want seconds.
func checkRefusal(t *testing.T, w *httptest.ResponseRecorder, code signal.Code, want string) {
	t.Helper()
	var body errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusTooManyRequests || body.Code != code || body.Name != code.String() {
		t.Fatalf("refusal: %d %s, want 429 with code %d", w.Code, w.Body, code)
	}
	if got := w.Header().Get("Retry-After"); got != want {
		t.Fatalf("Retry-After %q, want %q", got, want)
	}
}

// TestJoinBudget: the burst passes, the next is refused with how long to
// wait, the rate comes back with time, and another address has its own
// budget. Look-ups and join requests share it.
func TestJoinBudget(t *testing.T) {
	g, clock := newTestGuard(t, AddrLimits{JoinsPerSecond: 5, JoinBurst: 20, RoomsPerMinute: 10, RoomBurst: 10})
	const a, b = "192.0.2.1:1000", "192.0.2.2:1000"
	for i := range 20 {
		path := "/api/rooms/abc-defg-hij"
		if i%2 == 1 {
			path += "/join"
		}
		method := map[bool]string{false: "GET", true: "POST"}[i%2 == 1]
		if w := hit(g, method, path, a); w.Code != http.StatusOK {
			t.Fatalf("request %d of the burst: %d", i+1, w.Code)
		}
	}
	checkRefusal(t, hit(g, "POST", "/api/rooms/abc-defg-hij/join", a), signal.CodeTooManyRequests, "1")
	if w := hit(g, "GET", "/api/rooms/abc-defg-hij", b); w.Code != http.StatusOK {
		t.Fatalf("another address: %d", w.Code)
	}
	if w := hit(g, "GET", "/abc-defg-hij", a); w.Code != http.StatusOK {
		t.Fatalf("the room's page is not a look-up: %d", w.Code)
	}
	clock.now += time.Second // 5 tokens back
	passed := 0
	for range 10 {
		if hit(g, "GET", "/api/rooms/abc-defg-hij", a).Code == http.StatusOK {
			passed++
		}
	}
	if passed != 5 {
		t.Fatalf("a second later %d look-ups passed, want 5", passed)
	}
	// Room creations: 10 at once, then one every 6 s.
	for i := range 10 {
		if w := hit(g, "POST", "/api/rooms", a); w.Code != http.StatusOK {
			t.Fatalf("creation %d: %d", i+1, w.Code)
		}
	}
	checkRefusal(t, hit(g, "POST", "/api/rooms", a), signal.CodeTooManyRequests, "6")
	if got := refusedCount(g, "joins"); got != 1+5 {
		t.Fatalf("joins refused: counted %v, want 6", got)
	}
	if got := refusedCount(g, "rooms"); got != 1 {
		t.Fatalf("rooms refused: counted %v, want 1", got)
	}
}

// TestSocketsPerAddress: sockets count while their handler runs; the one
// past the limit is refused until one closes.
func TestSocketsPerAddress(t *testing.T) {
	tab := newAddrTable(AddrLimits{Sockets: 3})
	a := netip.MustParseAddr("192.0.2.1")
	var releases []func()
	for range 3 {
		release, no := tab.openSocket(a)
		if no != nil {
			t.Fatal(no.err)
		}
		releases = append(releases, release)
	}
	if _, no := tab.openSocket(a); no == nil || no.reason != "sockets" {
		t.Fatalf("fourth socket: %+v", no)
	}
	if _, no := tab.openSocket(netip.MustParseAddr("192.0.2.2")); no != nil {
		t.Fatalf("another address: %v", no.err)
	}
	releases[0]()
	releases[0]() // twice: counted once
	if _, no := tab.openSocket(a); no != nil {
		t.Fatalf("after one closed: %v", no.err)
	}
	if _, no := tab.openSocket(a); no == nil {
		t.Fatal("a release counted twice")
	}
}

// TestAddressTableBounded floods the guard with 150 000 distinct
// addresses: the table stays at its cap and its memory within 400 bytes
// an entry; an address holding sockets keeps its count through the
// flood; idle entries go once their buckets would be full again; and
// when every entry holds a socket, a new address is refused.
func TestAddressTableBounded(t *testing.T) {
	l := AddrLimits{Sockets: 2, JoinsPerSecond: 5, JoinBurst: 20, RoomsPerMinute: 10, RoomBurst: 10}
	g, clock := newTestGuard(t, l)
	holder := netip.MustParseAddr("198.51.100.1")
	for range 2 {
		if _, no := g.addrs.openSocket(holder); no != nil {
			t.Fatal(no.err)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	const flood = 150_000
	start := time.Now()
	for i := range flood {
		clock.now += time.Microsecond
		remote := fmt.Sprintf("10.%d.%d.%d:1000", i>>16, (i>>8)&255, i&255)
		if w := hit(g, "GET", "/api/rooms/abc-defg-hij", remote); w.Code != http.StatusOK {
			t.Fatalf("address %d refused: %d %s", i, w.Code, w.Body)
		}
	}
	elapsed := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := g.addrs.Len()
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d addresses in %v: table %d entries, heap %+d B (%d B an entry), goroutines %d → %d",
		flood, elapsed, n, grew, grew/int64(n), goroutines, runtime.NumGoroutine())
	if n != defaultMaxAddresses {
		t.Fatalf("table holds %d entries, cap %d", n, defaultMaxAddresses)
	}
	if grew > defaultMaxAddresses*400 {
		t.Fatalf("heap grew %d B for %d entries", grew, n)
	}
	if g := runtime.NumGoroutine(); g > goroutines+2 {
		t.Fatalf("%d goroutines, %d before", g, goroutines)
	}
	if _, no := g.addrs.openSocket(holder); no == nil || no.reason != "sockets" {
		t.Fatalf("the address holding 2 sockets was forgotten in the flood: %+v", no)
	}
	// A minute without requests: every idle entry's buckets are full
	// again, and the next request clears them.
	clock.now += time.Minute
	hit(g, "GET", "/api/rooms/abc-defg-hij", "192.0.2.9:1000")
	if n := g.addrs.Len(); n != 2 {
		t.Fatalf("after a minute idle the table holds %d entries, want 2 (the socket holder and the newcomer)", n)
	}

	// A table whose every entry holds a socket refuses a new address.
	full, _ := newTestGuard(t, AddrLimits{Sockets: 1, MaxAddresses: 3})
	for i := range 3 {
		if _, no := full.addrs.openSocket(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})); no != nil {
			t.Fatal(no.err)
		}
	}
	w := hit(full, "GET", "/ws", "192.0.2.200:1000")
	checkRefusal(t, w, signal.CodeTooManyRequests, "10")
	if refusedCount(full, "addresses") != 1 {
		t.Fatal("refusal not counted")
	}
}
