package sfu

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The rig runs the media core without a network: peers are made by the
// real NewPeer, on webrtc APIs whose connections are never connected. An
// interceptor on each connection records the RTCP the peer writes (PLIs to
// publishers, sender reports to subscribers) and ends it there. The test
// plays the publisher's read loop (rig.receive) and reads what each
// down-track writes from a wire that marshals packets as the transport
// does.

// inBubble runs f in a synctest bubble whose fake clock drives the
// package's nanotime. The process-wide epoch was taken outside the bubble
// on the real clock, so it is re-anchored inside: an hour back, so that
// the "0 = never" marks (a layer's last PLI, the last congestion) lie an
// hour in the past, as on a server that has been up for a while.
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		saved := epoch
		epoch = time.Now().Add(-time.Hour)
		t.Cleanup(func() { epoch = saved })
		f(t)
	})
}

// rtcpLog is an interceptor that records the RTCP packets a connection
// writes, with the nanotime they were written at, and reports them sent.
type rtcpLog struct {
	interceptor.NoOp
	mu   sync.Mutex
	pkts []sentRTCP
}

type sentRTCP struct {
	at  int64
	pkt rtcp.Packet
}

// NewInterceptor makes the log its own factory: every connection of an
// API shares one log.
func (l *rtcpLog) NewInterceptor(string) (interceptor.Interceptor, error) { return l, nil }

func (l *rtcpLog) BindRTCPWriter(interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, _ interceptor.Attributes) (int, error) {
		now := nanotime()
		l.mu.Lock()
		for _, p := range pkts {
			l.pkts = append(l.pkts, sentRTCP{now, p})
		}
		l.mu.Unlock()
		return len(pkts), nil
	})
}

// plis returns the nanotimes of the PLIs sent for a media SSRC.
func (l *rtcpLog) plis(ssrc uint32) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var at []int64
	for _, s := range l.pkts {
		if p, ok := s.pkt.(*rtcp.PictureLossIndication); ok && p.MediaSSRC == ssrc {
			at = append(at, s.at)
		}
	}
	return at
}

func recordingAPI(l *rtcpLog) *webrtc.API {
	reg := &interceptor.Registry{}
	reg.Add(l)
	return webrtc.NewAPI(webrtc.WithInterceptorRegistry(reg))
}

type rig struct {
	t        testing.TB
	sfu      *SFU
	pubRTCP  *rtcpLog // RTCP written on publisher connections
	subRTCP  *rtcpLog // RTCP written on subscriber connections
	start    int64    // nanotime when the rig was made
	nextPeer int
}

// newRig makes an SFU without sockets. Peers made by the rig are closed,
// and the SFU after them, when the test ends.
//
// A goroutine that outlives its peer would keep the bubble's clock
// running (a ticker is never deadlocked) and the test would spin until
// go test's timeout; instead, SFU.Close gets a minute of fake time to
// return, after which the test panics with the stacks of the package's
// goroutines still running.
func newRig(t testing.TB) *rig {
	r := &rig{t: t, pubRTCP: &rtcpLog{}, subRTCP: &rtcpLog{}, start: nanotime()}
	r.sfu = &SFU{log: slog.New(slog.DiscardHandler), metrics: NewMetrics(nil), batch: &batcher{},
		pubAPI: recordingAPI(r.pubRTCP), subAPI: recordingAPI(r.subRTCP)}
	t.Cleanup(func() {
		closed := make(chan error, 1)
		go func() { closed <- r.sfu.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("sfu close: %v", err)
			}
		case <-time.After(time.Minute):
			var stacks []string
			for _, s := range goroutines() {
				if strings.Contains(s, "created by github.com/parleyhq/parley/internal/sfu.") {
					stacks = append(stacks, s)
				}
			}
			panic("sfu goroutines still running a minute after the peers closed:\n\n" + strings.Join(stacks, "\n\n"))
		}
	})
	return r
}

// peer makes a participant with the real constructor.
func (r *rig) peer() *Peer {
	r.nextPeer++
	p, err := r.sfu.NewPeer("PA_"+string(rune('a'+r.nextPeer)), nopSignaler{}, nopHandler{})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { p.Close() })
	return p
}

// elapsed is the fake time since the rig was made.
func (r *rig) elapsed() time.Duration { return time.Duration(nanotime() - r.start) }

// sleepUntil sleeps until the rig has run for d.
func (r *rig) sleepUntil(d time.Duration) { time.Sleep(d - r.elapsed()) }

// publish adds a track to owner as Peer.onTrack and Track.addLayer do, one
// layer per SSRC given (low to high), with no remote stream: the test
// feeds the layers with receive.
func (r *rig) publish(owner *Peer, mime, source string, ssrcs ...uint32) *Track {
	kind, clock := webrtc.RTPCodecTypeVideo, uint32(90000)
	if mime == webrtc.MimeTypeOpus {
		kind, clock = webrtc.RTPCodecTypeAudio, 48000
	}
	codec := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mime, ClockRate: clock}}
	t := &Track{sfu: r.sfu, owner: owner, id: "TR_" + randomID(10), clientID: randomID(8), kind: kind,
		source: source, codec: codec, codecKind: kindOf(mime), done: make(chan struct{})}
	for i, ssrc := range ssrcs {
		t.layers[i] = newLayer(kind, i, ssrc)
	}
	owner.mu.Lock()
	owner.tracks[t.id] = t
	owner.byClient[t.clientID] = t
	owner.mu.Unlock()
	return t
}

// receive plays Track.readLoop for one packet of a layer, from its bytes.
func (r *rig) receive(t *Track, layer int, pkt *rtp.Packet) {
	raw, err := pkt.Marshal()
	if err != nil {
		r.t.Fatal(err)
	}
	var p Packet
	t.handle(t.layerAt(layer), &p, raw)
}

// binding is what the subscriber's connection negotiated for a track.
type binding struct {
	ssrc   uint32
	rtx    uint32 // the RTX SSRC, 0: none
	codecs []webrtc.RTPCodecParameters
	absID  int // abs-send-time extension id, 0 if not negotiated
	// discard makes the wire keep no packet, for long runs.
	discard bool
}

// subscribe gives sub a down-track of t as Peer.Subscribe does, bound by
// DownTrack.Bind as pion binds it once the subscriber connection is
// negotiated. It returns the wire the down-track writes to.
func (r *rig) subscribe(sub *Peer, t *Track, b binding) (*DownTrack, *wire) {
	d := newDownTrack(t, sub)
	sub.mu.Lock()
	sub.downs[t.id] = d
	sub.mu.Unlock()
	t.AddSink(d)
	w := &wire{discard: b.discard}
	if b.codecs == nil {
		b.codecs = []webrtc.RTPCodecParameters{{RTPCodecCapability: t.codec.RTPCodecCapability, PayloadType: 100}}
	}
	if _, err := d.Bind(bindContext{b, w}); err != nil {
		r.t.Fatal(err)
	}
	return d, w
}

// bindContext is the part of pion's TrackLocalContext that Bind reads.
type bindContext struct {
	b binding
	w *wire
}

var _ webrtc.TrackLocalContext = bindContext{}

func (c bindContext) CodecParameters() []webrtc.RTPCodecParameters { return c.b.codecs }
func (c bindContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter {
	if c.b.absID == 0 {
		return nil
	}
	return []webrtc.RTPHeaderExtensionParameter{{URI: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", ID: c.b.absID}}
}
func (c bindContext) SSRC() webrtc.SSRC                       { return webrtc.SSRC(c.b.ssrc) }
func (c bindContext) SSRCRetransmission() webrtc.SSRC         { return webrtc.SSRC(c.b.rtx) }
func (c bindContext) SSRCForwardErrorCorrection() webrtc.SSRC { return 0 }
func (c bindContext) WriteStream() webrtc.TrackLocalWriter    { return c.w }
func (c bindContext) ID() string                              { return "bind" }
func (c bindContext) RTCPReader() interceptor.RTCPReader      { return nil }

// wire is a subscriber's transport: it marshals what a down-track writes
// the way pion's SRTP session does (rtp.MarshalPacketTo), short of the
// encryption, and keeps the bytes.
type wire struct {
	discard bool
	mu      sync.Mutex
	sent    [][]byte
}

func (w *wire) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	buf := make([]byte, rtp.PacketMarshalSize(h, payload)) //nolint:staticcheck // what the transport calls
	n, err := rtp.MarshalPacketTo(buf, h, payload)         //nolint:staticcheck
	if err != nil {
		return 0, err
	}
	w.mu.Lock()
	if !w.discard {
		w.sent = append(w.sent, buf[:n])
	}
	w.mu.Unlock()
	return n, nil
}

func (w *wire) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.sent = append(w.sent, append([]byte(nil), b...))
	w.mu.Unlock()
	return len(b), nil
}

// take returns the raw packets written since the last take.
func (w *wire) take() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.sent
	w.sent = nil
	return out
}

// parse unmarshals packets the way a subscriber would.
func parse(t *testing.T, raw [][]byte) []rtp.Packet {
	t.Helper()
	out := make([]rtp.Packet, len(raw))
	for i, b := range raw {
		if err := out[i].Unmarshal(b); err != nil {
			t.Fatalf("packet %d: %v (% x)", i, err, b)
		}
	}
	return out
}

// vp8 builds a VP8 packet (RFC 7741 descriptor with S=1, then the first
// payload byte whose bit 0 is 0 on a keyframe) whose payload is unique to
// its layer and sequence number, so a packet can be traced back.
func vp8(layer int, seq uint16, ts uint32, key bool, size int) *rtp.Packet {
	frame := byte(0x01)
	if key {
		frame = 0x00
	}
	payload := make([]byte, max(size-12, 5))
	payload[0], payload[1] = 0x10, frame
	payload[2], payload[3], payload[4] = byte(layer), byte(seq>>8), byte(seq)
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts,
		SSRC: 0x1000 + uint32(layer)}, Payload: payload}
}
