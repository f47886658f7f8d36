package sfu

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// DownTrack is one subscriber's copy of a published track. It rewrites
// SSRC, payload type, sequence numbers and timestamps so the subscriber
// sees one continuous stream across simulcast layer switches, pauses and
// publisher mutes, and it switches layers only on keyframes.
type DownTrack struct {
	track *Track
	peer  *Peer // the subscriber
	clock int64 // codec clock rate, Hz

	writer atomic.Pointer[boundWriter] // nil until negotiated
	sender *webrtc.RTPSender

	// scratch is WriteRTP's header storage, one per layer: each layer is
	// forwarded from its own read loop, one packet at a time, and the
	// transport is done with the header when WriteRTP returns. On the
	// stack it escaped (the transport is an interface): three
	// allocations per packet per subscriber.
	scratch [maxLayers]writeScratch

	mu sync.Mutex
	// Preferences: the layer the subscriber asked for, the cap its
	// bandwidth allows, and whether it paused the track.
	maxLayer   int
	bwLayer    int
	bwTemporal int // the highest temporal layer the bandwidth allows on bwLayer
	paused     bool
	// Forwarding state.
	current   int  // layer being forwarded, -1 for none yet
	target    int  // layer wanted
	restart   bool // the next forwarded packet starts a new run
	epoch     uint32
	started   bool
	seqOffset uint16
	tsOffset  uint32
	lastSeq   uint16
	lastTS    uint32
	lastAt    int64
	runStart  uint16  // first input sequence number of the current run
	runs      [64]run // the last runs, for mapping NACKs back (a temporal drop opens one)
	vp8       vp8Renumber
	tf        temporalFilter
	resent    *[256]resendMark // recent retransmissions (resend.go), allocated at the first NACK
	nRuns     int
	payload   atomic.Uint64 // payload octets sent, for sender reports

	packets atomic.Uint64
	bytes   atomic.Uint64
}

type boundWriter struct {
	w     webrtc.TrackLocalWriter
	ssrc  uint32
	pt    uint8
	absID uint8 // abs-send-time extension id, 0 if not negotiated
	red   bool  // audio sent as RED (Packet.RED)
	// Retransmissions as RTX (RFC 4588) when the subscriber negotiated
	// it: their own SSRC and numbering, the original sequence number
	// first in the payload; else on the media SSRC.
	rtxSSRC uint32
	rtxPT   uint8
	rtxSeq  atomic.Uint32
}

var (
	_ webrtc.TrackLocal = (*DownTrack)(nil)
	_ Sink              = (*DownTrack)(nil)
)

func newDownTrack(t *Track, sub *Peer) *DownTrack {
	return &DownTrack{track: t, peer: sub, clock: int64(t.codec.ClockRate), maxLayer: LayerHigh,
		bwLayer: LayerHigh, bwTemporal: maxTemporal - 1, current: -1, target: -1, restart: true}
}

// Track returns the published track this down-track copies.
func (d *DownTrack) Track() *Track { return d.track }

// Bind is called by pion when the subscriber connection is negotiated:
// it picks the subscriber's payload type for our codec.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	want := d.track.codec
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if strings.EqualFold(want.MimeType, webrtc.MimeTypeH264) && h264Profile(c.SDPFmtpLine) != h264Profile(want.SDPFmtpLine) {
			continue
		}
		bw := &boundWriter{w: ctx.WriteStream(), ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType)}
		if pt, ok := rtxFor(ctx.CodecParameters(), c.PayloadType); ok && ctx.SSRCRetransmission() != 0 {
			bw.rtxSSRC, bw.rtxPT = uint32(ctx.SSRCRetransmission()), pt
		}
		if red, ok := d.redCodec(ctx.CodecParameters(), c); ok {
			c, bw.pt, bw.red = red, uint8(red.PayloadType), true
		}
		for _, e := range ctx.HeaderExtensions() {
			if e.URI == sdp.ABSSendTimeURI {
				bw.absID = uint8(e.ID)
			}
		}
		d.writer.Store(bw)
		d.track.RequestKeyframe(d.currentOrTarget())
		return c, nil
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

// redCodec finds the subscriber's RED for the Opus codec it negotiated,
// when the server writes RED (Packet.RED's blocks carry ptOpus).
func (d *DownTrack) redCodec(codecs []webrtc.RTPCodecParameters, opus webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	if d.track.codecKind != codecOpus || opus.PayloadType != ptOpus || d.track.sfu.opts.NoAudioRED {
		return webrtc.RTPCodecParameters{}, false
	}
	for _, c := range codecs {
		if strings.EqualFold(c.MimeType, mimeRED) && strings.HasPrefix(c.SDPFmtpLine, fmt.Sprintf("%d/", ptOpus)) {
			return c, true
		}
	}
	return webrtc.RTPCodecParameters{}, false
}

// Unbind stops writing.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.writer.Store(nil)
	return nil
}

// ID is the published track's id: the subscriber sees the same id.
func (d *DownTrack) ID() string { return d.track.id }

// StreamID groups a participant's tracks: the publisher's id.
func (d *DownTrack) StreamID() string { return d.track.owner.id }

// RID is empty: a subscriber receives one layer.
func (d *DownTrack) RID() string { return "" }

// Kind is the published track's kind.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.track.kind }

func h264Profile(fmtp string) string {
	for _, kv := range strings.Split(fmtp, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && k == "profile-level-id" && len(v) >= 4 {
			return strings.ToLower(v[:4])
		}
	}
	return ""
}

// SetPreference sets the highest layer the subscriber wants and whether
// it paused the track (not visible on its screen).
func (d *DownTrack) SetPreference(maxLayer int, paused bool) {
	d.mu.Lock()
	if maxLayer < LayerLow {
		maxLayer = LayerLow
	}
	if maxLayer > LayerHigh {
		maxLayer = LayerHigh
	}
	d.maxLayer = maxLayer
	wasPaused := d.paused
	d.paused = paused
	if wasPaused && !paused {
		d.restart = true
	}
	d.mu.Unlock()
	d.retarget()
	d.track.updateLayers(nanotime()) // a paused layer now wanted: resumed at once
}

// setBandwidthLayer caps the layer by the subscriber's bandwidth, and
// the temporal layers sent on it (temporal.go).
func (d *DownTrack) setBandwidthLayer(l, temporal int) {
	d.mu.Lock()
	changed := d.bwLayer != l
	d.bwLayer, d.bwTemporal = l, temporal
	d.mu.Unlock()
	if changed {
		d.retarget()
	}
}

// retarget recomputes the wanted layer: the highest available layer not
// above the subscriber's wish and its bandwidth cap, else the lowest
// available one. A keyframe is requested on a new target.
func (d *DownTrack) retarget() {
	avail, recent := d.track.layerStates()
	d.mu.Lock()
	// A layer back from a stall is not yet one to move up to.
	for l := max(d.current, 0) + 1; l < maxLayers; l++ {
		if recent&(1<<l) != 0 && avail&^(1<<l) != 0 {
			avail &^= 1 << l
		}
	}
	want := min(d.maxLayer, d.bwLayer)
	target := -1
	for l := want; l >= 0; l-- {
		if avail&(1<<l) != 0 {
			target = l
			break
		}
	}
	if target < 0 {
		for l := 0; l < maxLayers; l++ {
			if avail&(1<<l) != 0 {
				target = l
				break
			}
		}
	}
	if avail == 0 {
		target = 0
	}
	changed := target != d.target
	d.target = target
	needKey := (changed && target != d.current) || d.restart
	paused, wish, bw := d.paused, d.maxLayer, d.bwLayer
	d.mu.Unlock()
	if changed && d.peer != nil {
		d.peer.log.Debug("layer target", "track", d.track.id, "target", target, "wanted", wish, "bandwidth_layer", bw, "available", avail)
	}
	if needKey && !paused {
		d.track.RequestKeyframe(target)
	}
}

func (d *DownTrack) currentOrTarget() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.current >= 0 {
		return d.current
	}
	return max(d.target, 0)
}

// Layers returns the layer being forwarded and the one wanted.
func (d *DownTrack) Layers() (current, target int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current, d.target
}

// WriteRTP forwards one packet if it belongs to the layer this subscriber
// receives. Called from the track's read loops; never blocks beyond the
// short critical section and the non-blocking transport write.
func (d *DownTrack) WriteRTP(p *Packet) int {
	w := d.writer.Load()
	if w == nil {
		return 0
	}
	m := d.track.sfu.metrics
	isAudio := d.track.codecKind == codecOpus || d.track.kind == webrtc.RTPCodecTypeAudio
	d.mu.Lock()
	if d.target < 0 {
		d.mu.Unlock()
		d.retarget()
		d.mu.Lock()
	}
	if d.paused {
		fwd := p.Layer == d.current || (d.current < 0 && p.Layer == d.target)
		d.mu.Unlock()
		if fwd {
			m.drop(DropPaused, 1)
		}
		return 0
	}
	if e := d.track.epoch.Load(); e != d.epoch {
		d.epoch = e
		d.restart = true
	}
	switch {
	case p.Layer == d.current && !d.restart:
		if int16(p.SequenceNumber-d.runStart) < 0 {
			d.mu.Unlock()
			m.drop(DropLate, 1)
			return 0
		}
	case p.Layer == d.target && (isAudio || p.Keyframe):
		d.rebase(p)
		d.current = d.target
		d.restart = false
	case p.Layer == d.target:
		waiting := d.current < 0 || d.restart
		d.mu.Unlock()
		if waiting {
			m.drop(DropKeyframe, 1)
		}
		d.track.RequestKeyframe(p.Layer)
		return 0
	default:
		d.mu.Unlock()
		return 0
	}
	if p.Temporal >= 0 {
		if drop, fill := d.dropTemporal(p); drop {
			var seqOff uint16
			if fill {
				seqOff, _ = d.sendOffsets(p)
			}
			tsOff := d.tsOffset
			d.mu.Unlock()
			m.drop(DropTemporal, 1)
			if fill {
				d.fillGap(w, p, seqOff, tsOff)
			}
			return 0
		}
	}
	seqOff, picOff := d.seqOffset, d.vp8.picOff
	if p.Temporal >= 0 {
		seqOff, picOff = d.sendOffsets(p)
	}
	sc := &d.scratch[p.Layer]
	hdr := &sc.hdr
	*hdr = p.Header
	hdr.SSRC = w.ssrc
	hdr.PayloadType = w.pt
	hdr.SequenceNumber = p.SequenceNumber + seqOff
	hdr.Timestamp = p.Timestamp + d.tsOffset
	if int16(hdr.SequenceNumber-d.lastSeq) > 0 || !d.started {
		d.lastSeq, d.lastTS, d.lastAt, d.started = hdr.SequenceNumber, hdr.Timestamp, p.Arrival, true
	}
	var tl0Off uint8
	if d.track.codecKind == codecVP8 {
		picOff, tl0Off = d.vp8.next(p.Payload, picOff)
	}
	d.mu.Unlock()

	payload := p.Payload
	if picOff != 0 || tl0Off != 0 {
		sc.vp8 = vp8Shift(sc.vp8, payload, picOff, tl0Off)
		payload = sc.vp8
	}
	if w.red {
		payload = p.RED
		if !d.peer.bwe.redundancy(p.Arrival) {
			// RED still (the payload type negotiated), the frame alone.
			sc.red = append(append(sc.red[:0], ptOpus), p.Payload...)
			payload = sc.red
		}
	}
	var n int
	if !isAudio && d.peer.pace.active() {
		d.peer.pace.push(w, hdr, payload, p.Arrival) // stamped when it leaves
		n = hdr.MarshalSize() + len(payload)
	} else {
		// Publisher-side extension ids mean nothing on the subscriber's
		// connection: only our own abs-send-time goes out.
		w.stamp(hdr, &sc.abs, &sc.ext)
		var err error
		if n, err = w.w.WriteRTP(hdr, payload); err != nil {
			m.drop(DropWriteError, 1)
			return 0
		}
	}
	d.packets.Add(1)
	d.bytes.Add(uint64(n))
	d.payload.Add(uint64(len(payload)))
	return n
}

type writeScratch struct {
	red []byte
	vp8 []byte
	hdr rtp.Header
	abs [3]byte
	ext [1]rtp.Extension
}

// rebase makes the packet p follow the last forwarded one: the next
// sequence number, and a timestamp advanced by the wall-clock time since
// the last packet (at least one tick), so the receiver's jitter buffer
// sees a continuous stream. Called with d.mu held.
func (d *DownTrack) rebase(p *Packet) {
	d.runStart = p.SequenceNumber
	if !d.started {
		d.seqOffset, d.tsOffset = 0, 0
	} else {
		d.seqOffset = d.lastSeq + 1 - p.SequenceNumber
		ticks := (p.Arrival - d.lastAt) * d.clock / 1e9
		if ticks < 1 {
			ticks = 1
		}
		d.tsOffset = d.lastTS + uint32(ticks) - p.Timestamp
	}
	if d.track.codecKind == codecVP8 {
		d.vp8.rebase(p.Payload)
	}
	d.resetTemporal()
	d.addRun(run{outStart: p.SequenceNumber + d.seqOffset, layer: p.Layer,
		seqOffset: d.seqOffset, tsOffset: d.tsOffset, picOff: d.vp8.picOff, tl0Off: d.vp8.tl0Off})
}

// addRun records where a run's numbering starts (d.mu held).
func (d *DownTrack) addRun(r run) {
	d.runs[d.nRuns%len(d.runs)] = r
	d.nRuns++
}

// Stats returns packets and bytes sent to the subscriber.
func (d *DownTrack) Stats() (packets, bytes uint64) { return d.packets.Load(), d.bytes.Load() }

// readRTCP handles the subscriber's feedback for this track until the
// sender closes: keyframe requests go to the publisher (throttled), REMB
// feeds the subscriber's bandwidth estimate, NACKs are answered from the
// track's packet cache.
func (d *DownTrack) readRTCP() {
	m := d.track.sfu.metrics
	var lr lossReports
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pk := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.track.RequestKeyframe(d.currentOrTarget())
			case *rtcp.TransportLayerNack:
				d.peer.bwe.lostAt.Store(nanotime())
				for _, n := range pk.Nacks {
					m.nacks.Add(uint64(len(n.PacketList())))
				}
				d.track.sfu.batch.begin() // a NACK's repairs leave together
				d.resend(pk)
				d.track.sfu.batch.end()
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				d.peer.bwe.setREMB(uint64(pk.Bitrate))
			case *rtcp.ReceiverReport:
				for _, r := range pk.Reports {
					d.peer.bwe.setLoss(r.FractionLost)
					if r.FractionLost > 0 {
						d.peer.bwe.lostAt.Store(nanotime())
					}
					if lr.add(r) {
						d.peer.bwe.highLossAt.Store(nanotime())
					}
					if rtt, ok := roundTrip(r, time.Now()); ok {
						d.peer.bwe.setRTT(rtt, nanotime())
					}
				}
			}
		}
	}
}

// senderReport describes what was sent so far (RFC 3550 §6.4.1): the
// receiver maps RTP time to wall-clock time with it, which browsers need
// for lip sync between a participant's audio and video. nil before the
// first packet.
func (d *DownTrack) senderReport(now time.Time, nowNano int64) *rtcp.SenderReport {
	w := d.writer.Load()
	if w == nil {
		return nil
	}
	d.mu.Lock()
	started, lastTS, lastAt := d.started, d.lastTS, d.lastAt
	d.mu.Unlock()
	if !started {
		return nil
	}
	rtpNow := lastTS + uint32((nowNano-lastAt)*d.clock/1e9)
	return &rtcp.SenderReport{SSRC: w.ssrc, NTPTime: ntpTime(now), RTPTime: rtpNow,
		PacketCount: uint32(d.packets.Load()), OctetCount: uint32(d.payload.Load())}
}

// lossReports follows a subscriber's cumulative loss of one stream: what
// it never got, repairs counted, unlike the fraction lost of a report,
// which counts what is still on its way or being resent (Chrome reports
// several times a second: 1 late packet of 30 reads as 3 %, and
// fractions of 10–30 % came with every report on a path losing 2 % with
// jitter, all of it repaired).
//
// Congestion is two measurements in a row over highLoss: a narrow link
// loses a share of everything sent above its rate, for as long as it is;
// one unlucky measurement on a lossy path (a resend lost again) is not.
type lossReports struct {
	seq, lost uint32 // at the last measurement
	started   bool
	high      bool // the last measurement was over highLoss
}

// minExpected is how many packets a loss measurement spans at least.
const minExpected = 100

// add takes a report block and tells whether the stream lost more than
// highLoss (of 256) of the packets in each of the last two measurements.
func (l *lossReports) add(r rtcp.ReceptionReport) bool {
	if !l.started {
		l.seq, l.lost, l.started = r.LastSequenceNumber, r.TotalLost, true
		return false
	}
	expected := r.LastSequenceNumber - l.seq
	if expected < minExpected || expected > 1<<15 {
		if expected > 1<<15 { // went backwards: start over
			l.seq, l.lost, l.high = r.LastSequenceNumber, r.TotalLost, false
		}
		return false
	}
	lost := int64(r.TotalLost) - int64(l.lost)
	l.seq, l.lost = r.LastSequenceNumber, r.TotalLost
	high := lost*256 > int64(expected)*highLoss
	both := high && l.high
	l.high = high
	return both
}

// roundTrip computes the round trip from a report block about one of our
// sender reports (RFC 3550 §6.4.1: arrival − LSR − DLSR, in 1/65536 s).
func roundTrip(r rtcp.ReceptionReport, now time.Time) (time.Duration, bool) {
	if r.LastSenderReport == 0 {
		return 0, false
	}
	d := uint32(ntpTime(now)>>16) - r.LastSenderReport - r.Delay
	if d >= 10<<16 { // over 10 s, or negative: a stale or wrong block
		return 0, false
	}
	return time.Duration(uint64(d) * uint64(time.Second) >> 16), true
}

// ntpTime converts to the 64-bit NTP format (RFC 5905 §6).
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800 // seconds from 1900 to 1970
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// stamp replaces the header's extensions with the abs-send-time of now
// (draft-alvestrand-rmcat-remb: 24 bits of seconds in 6.18 fixed point;
// only differences matter to the receiver, so the monotonic clock is
// used). abs and ext are the caller's storage, so no allocation is shared
// between concurrent writers.
func (w *boundWriter) stamp(h *rtp.Header, abs *[3]byte, ext *[1]rtp.Extension) {
	if w.absID == 0 {
		h.Extension, h.Extensions, h.ExtensionProfile = false, nil, 0
		return
	}
	v := uint32((uint64(nanotime()) << 18) / 1e9)
	abs[0], abs[1], abs[2] = byte(v>>16), byte(v>>8), byte(v)
	h.Extension, h.ExtensionProfile, h.Extensions = false, 0, ext[:0]
	_ = h.SetExtension(w.absID, abs[:]) // appends into ext: no allocation
}
