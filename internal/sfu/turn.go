package sfu

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
)

// TURNOptions configures the embedded TURN server (RFC 8656), for clients
// on networks that let nothing through but TCP to port 443. It is off
// unless UDPAddr or TLSAddr is set. It relays only to this server's own
// media addresses: it is a way in to Parley, not an open relay.
type TURNOptions struct {
	// UDPAddr ("ip:port") serves TURN over UDP; empty: none.
	UDPAddr string
	// TLSAddr ("ip:port", typically port 443) serves TURN over TLS with
	// TLS's certificate; empty: none.
	TLSAddr string
	TLS     *tls.Config
	// Host is the name (or address) in the URLs given to clients; for
	// TLS it must be a name the certificate holds.
	Host string
	// Secret keys the credentials' HMAC (TURN REST style). Nodes sharing
	// one must be given it; empty: a random one per start.
	Secret string
	// TTL is how long credentials stay valid (default 12 h). They are
	// checked at each allocation refresh, so it bounds a meeting's length
	// through TURN; a reconnection gets new ones.
	TTL time.Duration
	// MaxAllocations bounds one participant's relays (default 8: two
	// connections, over UDP and TLS, with room for restarts).
	MaxAllocations int
}

// ICEServer is one entry of a client's RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// turnRealm is the realm of every credential the server issues.
const turnRealm = "parley"

// turnServer is the running TURN server and what it checks.
type turnServer struct {
	opts   TURNOptions
	srv    *turn.Server
	urls   []string
	allow  map[string]bool // peer IPs one may relay to: the media addresses
	mu     sync.Mutex
	allocs map[string]int // live allocations per participant
	made   atomic.Int64   // allocations made since start
}

// startTURN opens the TURN ports. relayIP is the local address relays
// are made on; peers are the addresses relays may send to.
func startTURN(o TURNOptions, relayIP net.IP, peers []net.IP, lf *pionLoggerFactory) (*turnServer, error) {
	if o.TTL <= 0 {
		o.TTL = 12 * time.Hour
	}
	if o.MaxAllocations <= 0 {
		o.MaxAllocations = 8
	}
	if o.Secret == "" {
		b := make([]byte, 32)
		rand.Read(b)
		o.Secret = hex.EncodeToString(b)
	}
	if o.Host == "" {
		o.Host = relayIP.String()
	}
	t := &turnServer{opts: o, allow: map[string]bool{}, allocs: map[string]int{}}
	for _, ip := range peers {
		t.allow[ip.String()] = true
	}
	gen := func() turn.RelayAddressGenerator {
		return &turn.RelayAddressGeneratorStatic{RelayAddress: relayIP, Address: relayIP.String()}
	}
	cfg := turn.ServerConfig{
		Realm:         turnRealm,
		LoggerFactory: lf,
		AuthHandler:   turn.LongTermTURNRESTAuthHandler(o.Secret, lf.NewLogger("turn")),
		QuotaHandler:  t.quota,
		EventHandler:  turn.EventHandler{OnAllocationCreated: t.created, OnAllocationDeleted: t.deleted},
		InboundMTU:    1600,
	}
	var closers []func() error
	fail := func(err error) (*turnServer, error) {
		for _, c := range closers {
			c()
		}
		return nil, err
	}
	if o.UDPAddr != "" {
		pc, err := net.ListenPacket("udp4", o.UDPAddr)
		if err != nil {
			return fail(fmt.Errorf("turn udp %s: %w", o.UDPAddr, err))
		}
		closers = append(closers, pc.Close)
		cfg.PacketConnConfigs = append(cfg.PacketConnConfigs, turn.PacketConnConfig{PacketConn: pc, RelayAddressGenerator: gen(), PermissionHandler: t.permit})
		t.urls = append(t.urls, "turn:"+net.JoinHostPort(o.Host, port(pc.LocalAddr()))+"?transport=udp")
	}
	if o.TLSAddr != "" {
		if o.TLS == nil || (len(o.TLS.Certificates) == 0 && o.TLS.GetCertificate == nil) {
			return fail(errors.New("turn tls: no certificate"))
		}
		ln, err := tls.Listen("tcp4", o.TLSAddr, o.TLS)
		if err != nil {
			return fail(fmt.Errorf("turn tls %s: %w", o.TLSAddr, err))
		}
		closers = append(closers, ln.Close)
		cfg.ListenerConfigs = append(cfg.ListenerConfigs, turn.ListenerConfig{Listener: ln, RelayAddressGenerator: gen(), PermissionHandler: t.permit})
		t.urls = append(t.urls, "turns:"+net.JoinHostPort(o.Host, port(ln.Addr()))+"?transport=tcp")
	}
	srv, err := turn.NewServer(cfg)
	if err != nil {
		return fail(fmt.Errorf("turn: %w", err))
	}
	t.srv = srv
	return t, nil
}

func port(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// credentials are a participant's TURN REST credentials: the username
// is "expiry:participant", the password its HMAC-SHA1 under the secret
// (pion's LongTermTURNRESTAuthHandler checks both, and the expiry).
func (t *turnServer) credentials(participant string) (ICEServer, error) {
	user, pass, err := turn.GenerateLongTermTURNRESTCredentials(t.opts.Secret, participant, t.opts.TTL)
	return ICEServer{URLs: t.urls, Username: user, Credential: pass}, err
}

// quota refuses a participant's allocation past MaxAllocations (pion
// passes the user id auth returned: the participant).
func (t *turnServer) quota(participant, _ string, _ net.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.allocs[participant] < t.opts.MaxAllocations
}

func (t *turnServer) created(_, _ net.Addr, _, participant, _ string, _ net.Addr, _ int) {
	t.made.Add(1)
	t.mu.Lock()
	t.allocs[participant]++
	t.mu.Unlock()
}

func (t *turnServer) deleted(_, _ net.Addr, _, participant, _ string) {
	t.mu.Lock()
	if t.allocs[participant]--; t.allocs[participant] <= 0 {
		delete(t.allocs, participant)
	}
	t.mu.Unlock()
}

// permit lets a relay reach this server's media addresses only.
func (t *turnServer) permit(_ net.Addr, peer net.IP) bool {
	return t.allow[peer.String()]
}

func (t *turnServer) close() error { return t.srv.Close() }

// relayAddresses picks the local address relays are made on (the first
// non-loopback media address, else loopback) and the addresses relays
// may send to (every media address, and the NAT's).
func relayAddresses(mux []net.Addr, natIP string) (net.IP, []net.IP, error) {
	var relay net.IP
	var peers []net.IP
	for _, a := range mux {
		ua, ok := a.(*net.UDPAddr)
		if !ok || ua.IP.To4() == nil || ua.IP.IsUnspecified() {
			continue
		}
		peers = append(peers, ua.IP)
		if relay == nil || (relay.IsLoopback() && !ua.IP.IsLoopback()) {
			relay = ua.IP
		}
	}
	if relay == nil {
		return nil, nil, errors.New("turn: no IPv4 media address to relay to")
	}
	if ip := net.ParseIP(natIP); ip != nil {
		peers = append(peers, ip)
	}
	return relay, peers, nil
}
