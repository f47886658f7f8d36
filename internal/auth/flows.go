package auth

import (
	"container/list"
	"net/url"
	"strings"
	"sync"
	"time"
)

// A sign-in in progress lives 10 minutes: long enough to type a password
// and answer a second factor, short enough that an abandoned one does
// not linger.
const flowTTL = 10 * time.Minute

// maxFlows bounds the sign-ins in progress kept in memory (about 300
// bytes each: 3 MB at most). /auth/login needs no credential, so a
// flood could otherwise grow the table without end; when full, the
// oldest is dropped and its user, if any, is asked to sign in again.
const maxFlows = 10000

// flow is one authorization request on its way to the provider and back.
type flow struct {
	// state is the OAuth state parameter (RFC 6749 §10.12) and the value
	// of the flow cookie: the callback must come back to the browser
	// that started the sign-in.
	state string
	// nonce goes into the ID token (OpenID Connect Core §3.1.2.1): a
	// token minted for another sign-in is refused.
	nonce string
	// verifier is the PKCE code verifier (RFC 7636): a stolen code is
	// useless without it.
	verifier string
	// next is the local path to return to.
	next    string
	expires time.Time
}

// flowTable holds the sign-ins in progress, each usable once.
type flowTable struct {
	mu      sync.Mutex
	byState map[string]*list.Element
	order   *list.List // of *flow, oldest first (all live flowTTL)
	max     int
}

func newFlowTable(max int) *flowTable {
	return &flowTable{byState: map[string]*list.Element{}, order: list.New(), max: max}
}

// put adds a flow, first dropping the expired ones and, when the table
// is full, the oldest.
func (t *flowTable) put(f *flow, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for e := t.order.Front(); e != nil; e = t.order.Front() {
		old := e.Value.(*flow)
		if now.Before(old.expires) && t.order.Len() < t.max {
			break
		}
		t.order.Remove(e)
		delete(t.byState, old.state)
	}
	t.byState[f.state] = t.order.PushBack(f)
}

// take removes and returns the live flow of a state: a second callback
// with the same state finds nothing.
func (t *flowTable) take(state string, now time.Time) (*flow, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.byState[state]
	if !ok {
		return nil, false
	}
	t.order.Remove(e)
	delete(t.byState, state)
	f := e.Value.(*flow)
	return f, now.Before(f.expires)
}

func (t *flowTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}

// LocalPath checks a return address given to /auth/login: it must be a
// path on this site ("/", "/abcdefghijklm?x=1"), so the sign-in cannot
// be used to send someone to another site (an open redirect). Empty
// means "/". Refused: anything with a scheme or a host, "//host" and
// "/\host" (browsers read both as another host), backslashes anywhere,
// control characters (browsers drop tabs and newlines, which would turn
// "/\t/host" into "//host"), and bytes outside printable ASCII (a
// client percent-encodes those).
func LocalPath(next string) (string, bool) {
	if next == "" {
		return "/", true
	}
	if len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return "", false
	}
	for _, c := range []byte(next) {
		if c < 0x20 || c > 0x7e {
			return "", false
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	return next, true
}
