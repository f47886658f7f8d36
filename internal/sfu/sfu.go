// Package sfu is Parley's selective forwarding unit: WebRTC peer
// connections (one publisher and one subscriber connection per
// participant), one receiver per published track fanning out to one
// down-track per subscriber, simulcast layer choice, RTCP (NACK, PLI,
// REMB, reports) and audio levels. It knows nothing of rooms, users or
// HTTP: the room package decides who receives what.
//
// Lock order: Peer.mu before Track.mu before DownTrack.mu. The forwarding
// path takes only DownTrack.mu (uncontended except during layer changes).
package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/logging"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// Errors returned by the SFU; the signalling layer maps them to wire codes.
var (
	ErrBadSDP           = errors.New("malformed session description")
	ErrNoSupportedCodec = errors.New("no supported codec offered")
	ErrNoRemoteDesc     = errors.New("candidate before offer")
	ErrBadCandidate     = errors.New("malformed ICE candidate")
	ErrClosed           = errors.New("peer closed")
	ErrUnknownTrack     = errors.New("unknown track")
	// ErrLimit: a participant asked for more than one may hold (tracks,
	// candidates, media sections); see the Max constants.
	ErrLimit = errors.New("limit reached")
)

// Limits is what one participant may make the server hold. A browser
// publishes at most 4 tracks (microphone, camera, screen and its audio)
// and gathers a handful of candidates per connection; the defaults leave
// room for devices with many interfaces while bounding what a hostile
// client can cost (memory, and STUN checks the server sends to addresses
// it is given).
type Limits struct {
	Publications  int // tracks announced, live or still to come
	Candidates    int // remote ICE candidates per peer connection
	MediaSections int // m-lines in one offer
}

// DefaultLimits are the limits of a zero Limits field.
var DefaultLimits = Limits{Publications: 16, Candidates: 64, MediaSections: 32}

// LimitError is ErrLimit naming the limit reached: "tracks",
// "candidates" or "media_sections".
type LimitError struct {
	Limit  string
	Detail string
}

func (e *LimitError) Error() string { return ErrLimit.Error() + ": " + e.Detail }
func (e *LimitError) Unwrap() error { return ErrLimit }

// Options configures the media transport.
type Options struct {
	// UDPPort is the one UDP port all media goes through (ICE UDP mux); 0
	// picks a free port per interface.
	UDPPort int
	// TCPPort enables ICE-TCP on that port when ≥ 0 (0 picks one); -1
	// disables it.
	TCPPort int
	// ListenIP is the address the TCP listener binds to.
	ListenIP string
	// NATIP, when set, replaces the host address in candidates (1:1 NAT).
	NATIP string
	// Interfaces limits candidate gathering to these interface names;
	// empty means all. "lo" alone gathers loopback candidates only.
	Interfaces []string
	// ICEServers are operator-run STUN/TURN URLs given to clients.
	ICEServers []string
	// TURN is the embedded TURN server, off unless given an address.
	TURN TURNOptions
	// NoAudioRED turns RED (see red.go) off both ways: publishers are not
	// offered it, subscribers get Opus alone.
	NoAudioRED bool
	// Limits bound what one participant may make the server hold; zero
	// fields take DefaultLimits'.
	Limits  Limits
	Logger  *slog.Logger
	Metrics *Metrics
}

// SFU owns the WebRTC APIs and the shared ICE sockets.
type SFU struct {
	opts    Options
	log     *slog.Logger
	metrics *Metrics
	pubAPI  *webrtc.API
	subAPI  *webrtc.API
	udpMux  ice.UDPMux
	batch   *batcher // the media sockets' send batching
	tcpMux  ice.TCPMux
	tcpLn   net.Listener
	turn    *turnServer

	wg sync.WaitGroup // every goroutine the SFU or its peers start
}

// New opens the media ports and prepares the WebRTC APIs.
func New(opts Options) (*SFU, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.ListenIP == "" {
		opts.ListenIP = "0.0.0.0"
	}
	for _, l := range []struct {
		v *int
		d int
	}{
		{&opts.Limits.Publications, DefaultLimits.Publications},
		{&opts.Limits.Candidates, DefaultLimits.Candidates},
		{&opts.Limits.MediaSections, DefaultLimits.MediaSections},
	} {
		if *l.v <= 0 {
			*l.v = l.d
		}
	}
	s := &SFU{opts: opts, log: opts.Logger, metrics: opts.Metrics}

	keep := interfaceFilter(opts.Interfaces)
	loopbackOnly := len(opts.Interfaces) > 0 && allLoopback(opts.Interfaces)
	s.batch = &batcher{metrics: s.metrics}
	host, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	muxOpts := []ice.UDPMuxFromPortOption{
		ice.UDPMuxFromPortWithNet(batchNet{Net: host, b: s.batch}),
		ice.UDPMuxFromPortWithInterfaceFilter(keep),
		ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4),
		ice.UDPMuxFromPortWithReadBufferSize(4 << 20),
		ice.UDPMuxFromPortWithWriteBufferSize(4 << 20),
		ice.UDPMuxFromPortWithLogger(pionLogger(s.log, "udpmux")),
	}
	if loopbackOnly || len(opts.Interfaces) == 0 {
		muxOpts = append(muxOpts, ice.UDPMuxFromPortWithLoopback())
	}
	udpMux, err := ice.NewMultiUDPMuxFromPort(opts.UDPPort, muxOpts...)
	if err != nil {
		return nil, fmt.Errorf("media udp port %d: %w", opts.UDPPort, err)
	}
	s.udpMux = udpMux
	if opts.TCPPort >= 0 {
		ip := opts.ListenIP
		if loopbackOnly {
			ip = "127.0.0.1"
		}
		ln, err := net.Listen("tcp4", net.JoinHostPort(ip, fmt.Sprint(opts.TCPPort)))
		if err != nil {
			udpMux.Close()
			return nil, fmt.Errorf("media tcp port %d: %w", opts.TCPPort, err)
		}
		s.tcpLn = ln
		s.tcpMux = webrtc.NewICETCPMux(pionLogger(s.log, "tcpmux"), ln, 32)
	}

	if opts.TURN.UDPAddr != "" || opts.TURN.TLSAddr != "" {
		relay, peers, err := relayAddresses(udpMux.GetListenAddresses(), opts.NATIP)
		if err == nil {
			s.turn, err = startTURN(opts.TURN, relay, peers, &pionLoggerFactory{log: s.log})
		}
		if err != nil {
			s.closeSockets()
			return nil, err
		}
	}

	for _, sd := range []side{publisherSide, subscriberSide} {
		api, err := s.newAPI(sd, keep, loopbackOnly)
		if err != nil {
			s.closeSockets()
			return nil, err
		}
		if sd == publisherSide {
			s.pubAPI = api
		} else {
			s.subAPI = api
		}
	}
	return s, nil
}

func (s *SFU) newAPI(sd side, keep func(string) bool, loopback bool) (*webrtc.API, error) {
	me, err := newMediaEngine(sd, !s.opts.NoAudioRED)
	if err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	lf := &pionLoggerFactory{log: s.log}
	switch sd {
	case publisherSide:
		// We receive: report reception, and send transport-wide
		// feedback so the browser's estimator can ramp up. Lost packets
		// are asked for by each track (repair.go), which sees repairs
		// that arrive as RTX.
		rr, err := report.NewReceiverInterceptor()
		if err != nil {
			return nil, err
		}
		reg.Add(rr)
		tw, err := twcc.NewSenderInterceptor()
		if err != nil {
			return nil, err
		}
		reg.Add(tw)
	case subscriberSide:
		// We send through no interceptor: NACKs are answered from each
		// track's packet cache (one copy of a packet for all subscribers,
		// where pion's responder keeps one per subscriber) and sender
		// reports come from the down-tracks' own counters. Measured in
		// docs/benchmarks.md: the two interceptors cost ~15 % of the
		// server's CPU per forwarded packet.
	}

	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetICEUDPMux(s.udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if s.tcpMux != nil {
		se.SetICETCPMux(s.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4)
	}
	se.SetNetworkTypes(networks)
	se.SetInterfaceFilter(keep)
	se.SetIncludeLoopbackCandidate(loopback || len(s.opts.Interfaces) == 0)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// pion holds a working pair with a relayed end back 2 s in case a
	// direct one answers; a direct pair that works answers within a
	// round trip, so 500 ms (pion's wait for reflexive ones) is enough
	// and a join through TURN takes 1.5 s less.
	se.SetRelayAcceptanceMinWait(500 * time.Millisecond)
	// AES-GCM first: with AES-NI it costs a fraction of HMAC-SHA1, and it
	// is paid once per forwarded packet per subscriber.
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	if s.opts.NATIP != "" {
		se.SetNAT1To1IPs([]string{s.opts.NATIP}, webrtc.ICECandidateTypeHost)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// ICEServers returns the STUN/TURN servers a participant's client should
// use: the operator's, and the embedded TURN server with credentials
// for this participant. None by default.
func (s *SFU) ICEServers(participant string) []ICEServer {
	var l []ICEServer
	if len(s.opts.ICEServers) > 0 {
		l = append(l, ICEServer{URLs: s.opts.ICEServers})
	}
	if s.turn != nil {
		if c, err := s.turn.credentials(participant); err == nil {
			l = append(l, c)
		}
	}
	return l
}

// TURNAllocations is how many relays the embedded TURN server has made
// since it started (0 when it is off).
func (s *SFU) TURNAllocations() int64 {
	if s.turn == nil {
		return 0
	}
	return s.turn.made.Load()
}

// Metrics returns the SFU's counters.
func (s *SFU) Metrics() *Metrics { return s.metrics }

// Close releases the media ports and waits for every goroutine the SFU
// started. Peers must be closed first.
func (s *SFU) Close() error {
	err := s.closeSockets()
	s.wg.Wait()
	return err
}

func (s *SFU) closeSockets() error {
	var errs []error
	if s.udpMux != nil {
		errs = append(errs, s.udpMux.Close())
	}
	if s.tcpMux != nil {
		errs = append(errs, s.tcpMux.Close())
	}
	if s.tcpLn != nil {
		s.tcpLn.Close()
	}
	if s.turn != nil {
		errs = append(errs, s.turn.close())
	}
	return errors.Join(errs...)
}

// UDPAddrs returns the addresses the media UDP sockets listen on.
func (s *SFU) UDPAddrs() []net.Addr { return s.udpMux.GetListenAddresses() }

// goroutine starts fn as a counted goroutine; Close waits for it.
func (s *SFU) goroutine(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

func interfaceFilter(names []string) func(string) bool {
	if len(names) == 0 {
		return func(string) bool { return true }
	}
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	return func(n string) bool { return set[n] }
}

func allLoopback(names []string) bool {
	for _, n := range names {
		if n != "lo" && !strings.HasPrefix(n, "lo") {
			return false
		}
	}
	return true
}

// pionLoggerFactory sends pion's logs to slog at debug level (warnings and
// errors at their own level), so a busy server's log is ours to control.
type pionLoggerFactory struct{ log *slog.Logger }

func (f *pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger(f.log, scope)
}

func pionLogger(l *slog.Logger, scope string) logging.LeveledLogger {
	return &pionLog{l: l.With("pion", scope)}
}

type pionLog struct{ l *slog.Logger }

func (p *pionLog) Trace(string)              {}
func (p *pionLog) Tracef(string, ...any)     {}
func (p *pionLog) Debug(m string)            { p.l.Debug(m) }
func (p *pionLog) Debugf(f string, a ...any) { p.l.Debug(fmt.Sprintf(f, a...)) }
func (p *pionLog) Info(m string)             { p.l.Debug(m) }
func (p *pionLog) Infof(f string, a ...any)  { p.l.Debug(fmt.Sprintf(f, a...)) }
func (p *pionLog) Warn(m string)             { p.l.Warn(m) }
func (p *pionLog) Warnf(f string, a ...any)  { p.l.Warn(fmt.Sprintf(f, a...)) }
func (p *pionLog) Error(m string)            { p.l.Error(m) }
func (p *pionLog) Errorf(f string, a ...any) { p.l.Error(fmt.Sprintf(f, a...)) }
