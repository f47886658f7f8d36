package httpapi

import (
	"container/list"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/signal"
)

// AddrLimits bound what one client address may ask of the server. They
// are the outer ring of the limits: the per-socket message rate and the
// per-participant limits hold whatever the address, and the server-wide
// caps hold whatever the number of addresses.
//
// An IPv6 client counts by its /64: one subscriber line gets a whole /64,
// so counting single IPv6 addresses would give one attacker 2^64 budgets.
// Clients behind one NAT (an office, a hospital) share a budget: the
// defaults leave room for a few dozen people joining in the same minute.
type AddrLimits struct {
	// Sockets bounds the signalling sockets (GET /ws) open at once
	// (0: no limit). A socket counts while its handler runs, joined or
	// not.
	Sockets int
	// JoinsPerSecond and JoinBurst bound room look-ups
	// (GET /api/rooms/{id}) and join requests (POST /api/rooms/{id}/join):
	// what someone guessing room ids has to send (0: no limit).
	JoinsPerSecond float64
	JoinBurst      int
	// RoomsPerMinute and RoomBurst bound room creations (POST /api/rooms;
	// 0: no limit).
	RoomsPerMinute float64
	RoomBurst      int
	// MaxAddresses caps the table of addresses (0: 100 000, about 25 MB
	// at most). See addrTable for what happens past it.
	MaxAddresses int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client. A request from any other peer is counted by its TCP
	// peer address, whatever headers it sends.
	TrustedProxies []netip.Prefix
}

const defaultMaxAddresses = 100_000

// requestKind is what a request costs, as the per-address limits see it.
type requestKind int

const (
	kindOther  requestKind = iota
	kindSocket             // GET /ws
	kindJoin               // GET /api/rooms/{id}, POST /api/rooms/{id}/join; look-ups of kept meetings: POST /api/search, /api/meetings/list
	kindCreate             // POST /api/rooms
)

// classify matches by method and path shape rather than by the mux's
// patterns, so that the limits hold for handlers this file never sees.
// It reads the escaped path: "/api/rooms/a%2Fb" is one room id to the
// mux, and must be one here too.
func classify(r *http.Request) requestKind {
	p := r.URL.EscapedPath()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if p == "/ws" {
			return kindSocket
		}
		if id, ok := strings.CutPrefix(p, "/api/rooms/"); ok && id != "" && !strings.Contains(id, "/") {
			return kindJoin
		}
	case http.MethodPost:
		if p == "/api/rooms" {
			return kindCreate
		}
		// Each searches the store for a caller that may hold 1000 keys:
		// the same budget as the look-ups.
		if p == "/api/search" || p == "/api/meetings/list" {
			return kindJoin
		}
		if rest, ok := strings.CutPrefix(p, "/api/rooms/"); ok {
			if id, ok := strings.CutSuffix(rest, "/join"); ok && id != "" && !strings.Contains(id, "/") {
				return kindJoin
			}
		}
	}
	return kindOther
}

// bucket is a token bucket: tokens come back at a rate a second up to a
// burst. (Not golang.org/x/time/rate: the table's lock already guards
// it, and 100 000 of them should cost 16 bytes each, not 80.)
type bucket struct {
	tokens float64
	at     time.Duration // when tokens was last brought up to date
}

// take spends one token, or says how long until one is there.
func (b *bucket) take(now time.Duration, rate float64, burst int) (wait time.Duration, ok bool) {
	b.tokens = min(float64(burst), b.tokens+(now-b.at).Seconds()*rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / rate * float64(time.Second)), false
}

// addrEntry is what the table holds for one address.
type addrEntry struct {
	addr         netip.Addr
	sockets      int
	joins, rooms bucket
	seen         time.Duration
	idle         *list.Element // in addrTable.idle while sockets == 0
}

// addrTable holds the per-address state. Memory stays bounded under a
// flood of distinct addresses:
//
//   - An address with no open socket is idle; idle entries sit in a list,
//     most recently seen first. An entry idle for idleAfter (the time its
//     buckets take to refill: 60 s with the defaults) is dropped, which
//     loses nothing: a fresh entry starts with full buckets too. Expired
//     entries are dropped from the list's tail on every call, so the
//     table needs no goroutine of its own.
//   - Past MaxAddresses entries, a new address evicts the least recently
//     seen idle one, whose buckets start full again if it comes back:
//     an attacker with that many addresses can reset someone's budget,
//     but already has more than that budget of its own. Entries holding
//     an open socket are never evicted; when every entry holds one (as
//     many open sockets as MaxAddresses), a new address is refused.
type addrTable struct {
	limits    AddrLimits
	idleAfter time.Duration
	now       func() time.Duration // monotonic; a test may set its own

	mu      sync.Mutex
	entries map[netip.Addr]*addrEntry
	idle    list.List // of *addrEntry, front most recently seen
}

func newAddrTable(l AddrLimits) *addrTable {
	if l.MaxAddresses <= 0 {
		l.MaxAddresses = defaultMaxAddresses
	}
	t := &addrTable{limits: l, entries: map[netip.Addr]*addrEntry{}}
	if l.JoinsPerSecond > 0 {
		t.idleAfter = max(t.idleAfter, time.Duration(float64(l.JoinBurst)/l.JoinsPerSecond*float64(time.Second)))
	}
	if l.RoomsPerMinute > 0 {
		t.idleAfter = max(t.idleAfter, time.Duration(float64(l.RoomBurst)/l.RoomsPerMinute*float64(time.Minute)))
	}
	epoch := time.Now()
	t.now = func() time.Duration { return time.Since(epoch) }
	return t
}

// Len returns the number of addresses held.
func (t *addrTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

// entryLocked finds or makes the entry of addr and marks it seen; nil
// when the table is full of entries holding sockets. t.mu is held.
func (t *addrTable) entryLocked(addr netip.Addr, now time.Duration) *addrEntry {
	for el := t.idle.Back(); el != nil; el = t.idle.Back() {
		e := el.Value.(*addrEntry)
		if now-e.seen < t.idleAfter {
			break
		}
		t.dropLocked(e)
	}
	e := t.entries[addr]
	if e == nil {
		if len(t.entries) >= t.limits.MaxAddresses {
			el := t.idle.Back()
			if el == nil {
				return nil
			}
			t.dropLocked(el.Value.(*addrEntry))
		}
		e = &addrEntry{addr: addr, joins: bucket{float64(t.limits.JoinBurst), now}, rooms: bucket{float64(t.limits.RoomBurst), now}}
		e.idle = t.idle.PushFront(e)
		t.entries[addr] = e
	}
	e.seen = now
	if e.idle != nil {
		t.idle.MoveToFront(e.idle)
	}
	return e
}

func (t *addrTable) dropLocked(e *addrEntry) {
	t.idle.Remove(e.idle)
	delete(t.entries, e.addr)
}

// refusal is why a request is turned away: the reason it is counted
// under, the error the client reads, and when to try again.
type refusal struct {
	reason string
	err    error
	retry  time.Duration
}

var (
	errTooManySockets = signal.NewError(signal.CodeTooManySockets, "too many signalling sockets open from your address")
	errTooManyJoins   = signal.NewError(signal.CodeTooManyRequests, "too many room look-ups or joins from your address")
	errTooManyCreates = signal.NewError(signal.CodeTooManyRequests, "too many rooms created from your address")
	errTableFull      = signal.NewError(signal.CodeTooManyRequests, "too many clients at once")
)

// A socket slot frees when someone leaves, which no one can predict; a
// full table, when sockets close. Both are told to wait this long.
const busyRetry = 10 * time.Second

// take spends one request of kind (kindJoin or kindCreate) from addr's
// budget, or says why not.
func (t *addrTable) take(addr netip.Addr, kind requestKind) *refusal {
	l := t.limits
	if (kind == kindJoin && l.JoinsPerSecond <= 0) || (kind == kindCreate && l.RoomsPerMinute <= 0) {
		return nil
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entryLocked(addr, now)
	if e == nil {
		return &refusal{"addresses", errTableFull, busyRetry}
	}
	if kind == kindJoin {
		if wait, ok := e.joins.take(now, l.JoinsPerSecond, l.JoinBurst); !ok {
			return &refusal{"joins", errTooManyJoins, wait}
		}
	} else if wait, ok := e.rooms.take(now, l.RoomsPerMinute/60, l.RoomBurst); !ok {
		return &refusal{"rooms", errTooManyCreates, wait}
	}
	return nil
}

// openSocket counts one more open socket from addr, or says why not;
// release undoes it (once).
func (t *addrTable) openSocket(addr netip.Addr) (release func(), _ *refusal) {
	if t.limits.Sockets <= 0 {
		return func() {}, nil
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entryLocked(addr, now)
	if e == nil {
		return nil, &refusal{"addresses", errTableFull, busyRetry}
	}
	if e.sockets >= t.limits.Sockets {
		return nil, &refusal{"sockets", errTooManySockets, busyRetry}
	}
	e.sockets++
	if e.idle != nil {
		t.idle.Remove(e.idle)
		e.idle = nil
	}
	var once sync.Once
	return func() { once.Do(func() { t.closeSocket(e) }) }, nil
}

func (t *addrTable) closeSocket(e *addrEntry) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e.sockets--
	if e.sockets == 0 {
		e.seen = now
		e.idle = t.idle.PushFront(e)
	}
}

// clientAddr is the address a request is counted under: its TCP peer,
// or, when that peer is a trusted proxy, the client the proxies name in
// X-Forwarded-For; an IPv6 address stands for its /64.
func (t *addrTable) clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		// Not an IP peer (a Unix socket): all such requests share one
		// budget, the zero address's.
		return netip.Addr{}
	}
	a := ap.Addr().Unmap().WithZone("")
	if t.trusted(a) {
		a = t.forwarded(r.Header.Values("X-Forwarded-For"), a)
	}
	if a.Is6() {
		a = netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a
}

func (t *addrTable) trusted(a netip.Addr) bool {
	for _, p := range t.limits.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwarded walks X-Forwarded-For from the right (the hop nearest us),
// past the trusted proxies, to the first address a trusted proxy saw as
// its peer: everything left of it was written by the client and proves
// nothing. A malformed entry stops the walk at the proxy that passed it.
func (t *addrTable) forwarded(headers []string, peer netip.Addr) netip.Addr {
	var hops []string
	for _, h := range headers {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		s := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(s)
		if err != nil {
			ap, err := netip.ParseAddrPort(s)
			if err != nil {
				return peer
			}
			a = ap.Addr()
		}
		a = a.Unmap().WithZone("")
		if !t.trusted(a) {
			return a
		}
		peer = a
	}
	return peer
}
