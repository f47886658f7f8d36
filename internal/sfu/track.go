package sfu

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Layer qualities of a simulcast track. A track without simulcast has one
// layer, at index 0.
const (
	LayerLow    = 0
	LayerMedium = 1
	LayerHigh   = 2
	maxLayers   = 3
)

// pliInterval throttles keyframe requests per layer: RFC 4585 §3.5.4 asks
// senders not to flood; a keyframe costs 5-10× a delta frame, so one per
// 500 ms per layer bounds the cost however many subscribers ask.
const pliInterval = 500 * time.Millisecond

// Packet is what a Sink receives: one RTP packet of one layer of a track.
// Sinks must not keep it (or its payload) after WriteRTP returns.
type Packet struct {
	rtp.Packet
	Layer    int
	Keyframe bool  // first packet of a keyframe (video)
	Arrival  int64 // monotonic nanoseconds (nanotime)
	// VP8's temporal layer (-1: none), whether the packet begins a
	// picture, and the layer-sync bit: a picture from which a receiver
	// can take the higher temporal layers again (temporal.go).
	Temporal     int8
	PictureStart bool
	LayerSync    bool
	Picture      int32 // VP8's 15-bit picture id, -1: none
	// RED is the packet's Opus frame with the frames sent just before
	// it, as an RFC 2198 payload whose blocks carry payload type ptOpus
	// (audio only): what a subscriber that negotiated RED is sent.
	RED []byte
}

// A Sink receives a track's packets: a subscriber's down-track, the speech
// tap, a recorder. WriteRTP is called on the forwarding path and must not
// block; a sink that cannot keep up drops and counts. It returns the
// bytes it sent on (0 when it did not forward the packet), so the read
// loop updates the forwarding counters once per packet, not per copy.
type Sink interface {
	WriteRTP(p *Packet) int
}

// Info describes a published track to the room and to subscribers.
type Info struct {
	ID        string
	OwnerID   string
	Kind      string // audio | video
	Source    string // microphone | camera | screen | screen_audio
	Codec     string // mime type
	Simulcast []string
	Muted     bool
	// SharedMic: one microphone hears several people (a meeting room);
	// its transcript is diarized.
	SharedMic bool
	// Speakers is how many people share the microphone, when known (0:
	// diarization estimates it).
	Speakers int
}

// Track is one published track: audio, or video with up to three
// simulcast layers, each read by its own goroutine and fanned out to the
// track's sinks.
type Track struct {
	sfu       *SFU
	owner     *Peer
	id        string
	clientID  string // the publisher's own track id (msid)
	kind      webrtc.RTPCodecType
	source    string
	codec     webrtc.RTPCodecParameters
	codecKind codecKind
	levelExt  uint8 // RFC 6464 audio level extension id on the publisher side, 0 if none
	redPT     uint8 // the publisher's RED payload type, 0 if none

	mu     sync.Mutex
	layers [maxLayers]*layer
	rids   []string // announced simulcast rids, low to high
	taps   []*Tap
	closed bool
	// The simulcast layers the publisher was told to send (0: not told
	// yet, all of them), and since when each has been unneeded.
	sending  uint8
	unneeded [maxLayers]int64
	layersMu sync.Mutex // held through updateLayers
	done     chan struct{}

	sinks     atomic.Pointer[[]Sink] // copy-on-write: the read loops never lock
	muted     atomic.Bool
	sharedMic atomic.Bool
	speakers  atomic.Int32
	epoch     atomic.Uint32 // bumped when forwarding resumes after a mute: down-tracks start a new run
	level     atomic.Uint32 // smoothed audio level, 0 (silence) .. 127·256 (loud)
	lastVoice atomic.Int64  // nanotime of the last packet flagged as voice
}

// ID returns the server's id of the track.
func (t *Track) ID() string { return t.id }

// Owner returns the publishing peer.
func (t *Track) Owner() *Peer { return t.owner }

// Kind is "audio" or "video".
func (t *Track) Kind() string { return t.kind.String() }

// Info describes the track.
func (t *Track) Info() Info {
	t.mu.Lock()
	defer t.mu.Unlock()
	info := Info{ID: t.id, OwnerID: t.owner.id, Kind: t.kind.String(), Source: t.source,
		Codec: t.codec.MimeType, Muted: t.muted.Load(), SharedMic: t.sharedMic.Load(), Speakers: int(t.speakers.Load())}
	for _, l := range t.layers {
		if l != nil && l.rid != "" {
			info.Simulcast = append(info.Simulcast, l.rid)
		}
	}
	return info
}

// SetMuted stops (or resumes) forwarding. A muted track's packets are
// dropped at the receiver, so no subscriber gets media while it is muted.
func (t *Track) SetMuted(m bool) {
	if t.muted.Swap(m) == m {
		return
	}
	if !m {
		t.epoch.Add(1)
	}
	if !m && t.kind == webrtc.RTPCodecTypeVideo {
		for i := 0; i < maxLayers; i++ {
			t.RequestKeyframe(i)
		}
	}
}

// SetSharedMic marks the track as one microphone hearing several people
// (speakers of them when known, 0 when not); it reports whether that
// changed.
func (t *Track) SetSharedMic(shared bool, speakers int) bool {
	if !shared {
		speakers = 0
	}
	old := t.speakers.Swap(int32(speakers))
	return t.sharedMic.Swap(shared) != shared || old != int32(speakers)
}

// Speakers returns how many people share the microphone (0: unknown).
func (t *Track) Speakers() int { return int(t.speakers.Load()) }

// SharedMic reports whether the track is a shared microphone.
func (t *Track) SharedMic() bool { return t.sharedMic.Load() }

// Muted reports whether the publisher muted the track.
func (t *Track) Muted() bool { return t.muted.Load() }

// AudioLevel returns the smoothed RFC 6464 level in dB above -127 dBov
// (0 = silence, 127 = full scale) and whether voice was flagged in the
// last 500 ms.
func (t *Track) AudioLevel() (level float64, voice bool) {
	return float64(t.level.Load()) / 256, nanotime()-t.lastVoice.Load() < int64(500*time.Millisecond)
}

// AddSink attaches a sink; it gets packets from the next one on.
func (t *Track) AddSink(s Sink) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.sinks.Load()
	var next []Sink
	if old != nil {
		next = append(next, *old...)
	}
	next = append(next, s)
	t.sinks.Store(&next)
}

// RemoveSink detaches a sink.
func (t *Track) RemoveSink(s Sink) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.sinks.Load()
	if old == nil {
		return
	}
	next := make([]Sink, 0, len(*old))
	for _, x := range *old {
		if x != s {
			next = append(next, x)
		}
	}
	t.sinks.Store(&next)
}

// Done is closed when the track has ended.
func (t *Track) Done() <-chan struct{} { return t.done }

// TopLayer is the index of the track's best layer: the highest of its
// announced simulcast layers, 0 without simulcast. A recorder taps it.
func (t *Track) TopLayer() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return min(max(len(t.rids)-1, 0), maxLayers-1)
}

// RequestKeyframe asks the publisher for a keyframe on one layer, at most
// once per pliInterval.
func (t *Track) RequestKeyframe(i int) {
	if t.kind != webrtc.RTPCodecTypeVideo || i < 0 || i >= maxLayers {
		return
	}
	l := t.layerAt(i)
	if l == nil {
		return
	}
	now := nanotime()
	last := l.lastPLI.Load()
	if wait := last + int64(pliInterval) - now; wait > 0 {
		// Throttled, not dropped: the request sent just before may have
		// been lost (a link coming back from an outage: subscribers' new
		// requests came within 500 ms of the one lost in it, and video
		// waited seconds for them to ask again). One is sent when the
		// interval ends.
		// Not if a keyframe came meanwhile: it answered this request.
		if l.pliDue.CompareAndSwap(false, true) {
			time.AfterFunc(time.Duration(wait), func() {
				l.pliDue.Store(false)
				if l.lastKey.Load() < now {
					t.RequestKeyframe(i)
				}
			})
		}
		return
	}
	if !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	if t.owner.Relayed() {
		t.owner.relayKeyframe(t.id, i)
		t.sfu.metrics.plis.Add(1)
		return
	}
	if err := t.owner.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}}); err == nil {
		t.sfu.metrics.plis.Add(1)
		t.owner.log.Debug("keyframe request", "track", t.id, "layer", i)
	}
}

// addLayer attaches one received RTP stream and starts its read loop.
func (t *Track) addLayer(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	t.mu.Lock()
	idx := layerIndex(remote.RID(), t.rids)
	for t.layers[idx] != nil && idx < maxLayers-1 { // duplicate rid mapping: take the next slot
		idx++
	}
	if t.closed || t.layers[idx] != nil {
		t.mu.Unlock()
		return
	}
	l := newLayer(t.kind, idx, uint32(remote.SSRC()))
	l.rid, l.remote = remote.RID(), remote
	for _, c := range recv.GetParameters().Codecs {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) {
			l.markRTX(uint8(c.PayloadType))
		}
	}
	t.layers[idx] = l
	if t.levelExt == 0 && t.kind == webrtc.RTPCodecTypeAudio {
		for _, e := range recv.GetParameters().HeaderExtensions {
			if e.URI == sdp.AudioLevelURI {
				t.levelExt = uint8(e.ID)
			}
		}
	}
	t.mu.Unlock()
	t.owner.goroutine(func() { t.readLoop(l) })
}

// readLoop forwards one layer's packets until the stream ends. One
// goroutine per layer; the packet buffer is reused, so each packet is
// stored once and every sink reads the same bytes.
func (t *Track) readLoop(l *layer) {
	defer t.layerEnded(l)
	buf := make([]byte, 1500)
	var p Packet
	for {
		n, _, err := l.remote.Read(buf)
		if err != nil {
			return
		}
		t.sfu.batch.begin()
		t.handle(l, &p, buf[:n])
		t.sfu.batch.end()
	}
}

// handle takes one received packet of layer l: stored in the layer's
// cache, parsed, accounted, dropped if it is a duplicate or the track is
// muted, flagged as a keyframe start and handed to every sink.
//
// A packet whose sequence number the cache already holds is a duplicate,
// not a repair (a retransmission the server asked for fills a gap, so its
// number is not there yet). Firefox sends such copies as bandwidth
// probes: its pacer pads its low simulcast layer by resending media
// packets under their own sequence numbers (seen at 8× the layer's cap
// with a fake camera). Forwarded, they would cost every subscriber
// of that layer as much, and counted, they would make the layer look too
// expensive for the subscribers it exists for.
func (t *Track) handle(l *layer, p *Packet, raw []byte) {
	m := t.sfu.metrics
	if len(raw) >= 2 && l.isRTX(raw[1]&0x7f) {
		// Repairs read as the layer's media (onRepairAsMedia): never
		// forwarded as media, nor cached under their own numbers.
		m.drop(DropRepairAsMedia, 1)
		return
	}
	if l.cache != nil && len(raw) >= 4 {
		// Stored once: the cache slot is the copy every subscriber's
		// packet and retransmission is made from.
		var dup bool
		raw, dup = l.cache.Store(uint16(raw[2])<<8|uint16(raw[3]), raw)
		if dup {
			m.drop(DropDuplicate, 1)
			return
		}
	}
	if err := p.Unmarshal(raw); err != nil {
		m.drop(DropMalformed, 1)
		return
	}
	p.Layer = l.index
	p.Arrival = nanotime()
	prev := l.lastAt.Swap(p.Arrival)
	if l.rep != nil && l.rep.received(p.SequenceNumber, p.Arrival, p.Arrival-prev) {
		t.RequestKeyframe(l.index)
	}
	if prev != 0 && p.Arrival-prev > int64(stallAfter) {
		if p.Arrival-l.wokenAt.Load() < int64(wakeWithin) {
			// Back because we asked for it (layers.go), not a flapping
			// encoder: subscribers waiting for it move up now, on
			// this packet if it starts the keyframe a resumed layer
			// begins with.
			t.retargetSinks()
		} else {
			l.resumed.Store(p.Arrival)
		}
	}
	p.Temporal, p.PictureStart, p.LayerSync, p.Picture = -1, false, false, -1
	if t.codecKind == codecVP8 {
		p.Picture = vp8Picture(p.Payload)
		if tid, sync, ok := vp8Temporal(p.Payload); ok {
			p.Temporal, p.LayerSync = int8(min(tid, maxTemporal-1)), sync
		}
		p.PictureStart = vp8PictureStart(p.Payload)
	}
	l.account(uint64(len(raw)), p.Temporal, p.Arrival)
	if t.levelExt != 0 {
		t.observeLevel(&p.Packet, p.Arrival)
	}
	if t.muted.Load() {
		m.drop(DropMuted, uint64(t.sinkCount()))
		return
	}
	if l.audio != nil {
		t.forwardAudio(l, p)
		return
	}
	p.Keyframe = isKeyframeStart(t.codecKind, p.Payload)
	if p.Keyframe {
		l.lastKey.Store(p.Arrival)
		t.owner.log.Debug("keyframe", "track", t.id, "layer", l.index)
	}
	t.fanOut(p)
}

// fanOut hands a packet to every sink and counts what they sent.
func (t *Track) fanOut(p *Packet) {
	m := t.sfu.metrics
	sinks := t.sinks.Load()
	if sinks == nil {
		return
	}
	var copies, bytes uint64
	for _, s := range *sinks {
		if n := s.WriteRTP(p); n > 0 {
			copies++
			bytes += uint64(n)
		}
	}
	if copies > 0 {
		m.forwarded.Add(copies)
		m.bytes.Add(bytes)
	}
}

func (t *Track) sinkCount() int {
	if s := t.sinks.Load(); s != nil {
		return len(*s)
	}
	return 0
}

// observeLevel reads the RFC 6464 extension: bit 7 is the voice activity
// flag, bits 0-6 the level in -dBov (0 loudest, 127 silence).
func (t *Track) observeLevel(p *rtp.Packet, now int64) {
	ext := p.GetExtension(t.levelExt)
	if len(ext) == 0 {
		return
	}
	dbov := uint32(ext[0] & 0x7f)
	if ext[0]&0x80 != 0 {
		t.lastVoice.Store(now)
	}
	// Exponential smoothing over ~10 packets (200 ms at 20 ms frames):
	// enough to ignore clicks, fast enough for speaker switching. Only the
	// read loop of the track's single audio layer writes it.
	cur := int64(t.level.Load())
	target := int64(127-dbov) * 256
	t.level.Store(uint32(cur + (target-cur)/10))
}

func (t *Track) layerEnded(l *layer) {
	t.mu.Lock()
	if t.layers[l.index] == l {
		t.layers[l.index] = nil
	}
	remaining := 0
	for _, x := range t.layers {
		if x != nil {
			remaining++
		}
	}
	t.mu.Unlock()
	if remaining == 0 {
		t.owner.trackEnded(t)
	}
}

// close marks the track ended and stops its taps (without waiting for
// their consumers to finish); the owner tells the room.
func (t *Track) close() bool {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return false
	}
	t.closed = true
	close(t.done)
	taps := t.taps
	t.taps = nil
	t.mu.Unlock()
	for _, tap := range taps {
		tap.Stop()
	}
	return true
}
