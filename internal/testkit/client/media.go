package client

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Synthetic payloads carry a stamp right after their codec header: the
// bytes 'P' 'L' and the send time in Unix nanoseconds. The SFU forwards
// payloads untouched, so a receiver in the same process (or on a machine
// with the same clock) reads the one-way forwarding delay off each packet.
var stampMagic = [2]byte{'P', 'L'}

const stampLen = 10

func putStamp(b []byte, t time.Time) {
	b[0], b[1] = stampMagic[0], stampMagic[1]
	binary.BigEndian.PutUint64(b[2:], uint64(t.UnixNano()))
}

// readStamp finds the stamp at the offset of each synthetic format.
func readStamp(p []byte, kind string) (time.Time, bool) {
	var off int
	switch kind {
	case "opus":
		off = 1 // after the TOC byte
	case "vp8":
		off = 5 // 4-byte descriptor, 1 frame-type byte
	case "h264":
		off = 2 // FU indicator and header
	default:
		return time.Time{}, false
	}
	if len(p) < off+stampLen || p[off] != stampMagic[0] || p[off+1] != stampMagic[1] {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(p[off+2:]))), true
}

// VideoOptions describes a synthetic video track.
type VideoOptions struct {
	Codec     string // "vp8" (default) or "h264"
	Simulcast bool   // three layers by rid q, h, f
	// Bitrates of the low, medium and high layers in bits per second
	// (default 150k, 500k, 1.5M, like a browser's 3-layer 720p simulcast).
	// Without simulcast the medium rate is used.
	Bitrates [3]int
	FPS      int    // default 30
	Source   string // default camera
	// KeyframeInterval forces periodic keyframes (default 10 s); PLIs
	// from the server get one at the next frame.
	KeyframeInterval time.Duration
	// Burst sends each frame's packets back to back instead of pacing
	// them like a browser (what simpler load generators do).
	Burst bool
	// Frames, when set, are real VP8 frames (from an IVF file) sent in a
	// loop on every layer instead of synthetic ones; keyframes then come
	// when the file has them, and no delay stamp is possible.
	Frames [][]byte
}

// LocalTrack is a track this client publishes.
type LocalTrack struct {
	ClientID string
	Kind     string
	c        *Client
	sender   *webrtc.RTPSender
	layers   []*webrtc.TrackLocalStaticRTP
	midExt   uint8
	ridExt   uint8
	levelExt uint8
	level    atomic.Int32 // -dBov with bit 7 = voice; -1 = no extension
	mid      string
	keyframe [3]atomic.Bool
	stop     chan struct{}
	stopOnce sync.Once
	paused   atomic.Bool
	off      [3]atomic.Bool // simulcast layers the server asked us not to send
	finished atomic.Bool

	Packets atomic.Uint64 // sent, all layers
	PLIs    atomic.Uint64 // keyframe requests received
}

// ServerID returns the server's id for the track (after "published").
func (t *LocalTrack) ServerID() string { return t.c.ServerTrackID(t.ClientID) }

// Pause stops (true) or resumes sending packets, as a browser does when
// its track is replaced by nothing.
func (t *LocalTrack) Pause(p bool) { t.paused.Store(p) }

// Stop ends the sending loop.
func (t *LocalTrack) Stop() { t.stopOnce.Do(func() { close(t.stop) }) }

var rids = []string{"q", "h", "f"}

// PublishVideo adds a synthetic video track, announces it, negotiates and
// starts sending.
func (c *Client) PublishVideo(ctx context.Context, o VideoOptions) (*LocalTrack, error) {
	if o.Codec == "" {
		o.Codec = "vp8"
	}
	if o.Bitrates == [3]int{} {
		o.Bitrates = [3]int{150_000, 500_000, 1_500_000}
	}
	if o.FPS == 0 {
		o.FPS = 30
	}
	if o.Source == "" {
		o.Source = "camera"
	}
	if o.KeyframeInterval == 0 {
		o.KeyframeInterval = 10 * time.Second
	}
	var cap webrtc.RTPCodecCapability
	switch o.Codec {
	case "vp8":
		cap = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	case "h264":
		cap = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}
	default:
		return nil, fmt.Errorf("unknown video codec %q", o.Codec)
	}
	id := "video-" + randomHex(6)
	t := &LocalTrack{ClientID: id, Kind: "video", c: c, stop: make(chan struct{})}
	n := 1
	if o.Simulcast {
		n = 3
	}
	for i := 0; i < n; i++ {
		var opts []func(*webrtc.TrackLocalStaticRTP)
		if o.Simulcast {
			opts = append(opts, webrtc.WithRTPStreamID(rids[i]))
		}
		tr, err := webrtc.NewTrackLocalStaticRTP(cap, id, "stream-"+id, opts...)
		if err != nil {
			return nil, err
		}
		t.layers = append(t.layers, tr)
	}
	tx, err := c.Pub.AddTransceiverFromTrack(t.layers[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, err
	}
	t.sender = tx.Sender()
	for _, l := range t.layers[1:] {
		if err := t.sender.AddEncoding(l); err != nil {
			return nil, err
		}
	}
	msg := map[string]any{"type": "publish", "client_track_id": id, "kind": "video", "source": o.Source}
	if o.Simulcast {
		msg["simulcast"] = rids
	}
	if err := c.Send(msg); err != nil {
		return nil, err
	}
	if err := c.Negotiate(ctx); err != nil {
		return nil, err
	}
	t.mid = tx.Mid()
	for _, e := range t.sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			t.midExt = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			t.ridExt = uint8(e.ID)
		}
	}
	for i := range t.keyframe {
		t.keyframe[i].Store(true)
	}
	for i := range t.layers {
		c.goroutine(func() { t.readRTCP(i) })
	}
	c.mu.Lock()
	c.videos = append(c.videos, t)
	c.mu.Unlock()
	c.goroutine(func() { t.sendVideo(o, strings.ToLower(o.Codec)) })
	return t, nil
}

// setLayers sends the simulcast layers named and pauses the others, as
// the server's "layers" asks; a layer sent again starts with a keyframe,
// as a browser's does.
func (t *LocalTrack) setLayers(send []string) {
	if len(t.layers) < 2 {
		return
	}
	for i := range t.layers {
		off := !slices.Contains(send, rids[i])
		if t.off[i].Swap(off) && !off {
			t.keyframe[i].Store(true)
		}
	}
}

// LayerSent reports whether a simulcast layer is being sent.
func (t *LocalTrack) LayerSent(i int) bool { return !t.off[i].Load() }

// AudioOptions describes a synthetic Opus track.
type AudioOptions struct {
	// PayloadBytes per 20 ms packet (default 80: 32 kb/s).
	PayloadBytes int
	Source       string // default microphone
	// Packets, when set, are real Opus packets (20 ms each) sent in a loop
	// instead of synthetic ones; no delay stamp is possible then.
	Packets [][]byte
	// Loop repeats Packets forever (default: send them once, then stop).
	Loop bool
	// StartPaused publishes without sending until Pause(false), so several
	// tracks can start on one timeline.
	StartPaused bool
	// Level, when set, adds the RFC 6464 audio level extension: Level is
	// the -dBov value (0 loudest … 127 silence) and Voice the VAD flag.
	Level *uint8
	Voice bool
}

// PublishAudio adds an Opus track, announces it, negotiates and starts
// sending.
func (c *Client) PublishAudio(ctx context.Context, o AudioOptions) (*LocalTrack, error) {
	if o.PayloadBytes == 0 {
		o.PayloadBytes = 80
	}
	if o.Source == "" {
		o.Source = "microphone"
	}
	id := "audio-" + randomHex(6)
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, id, "stream-"+id)
	if err != nil {
		return nil, err
	}
	t := &LocalTrack{ClientID: id, Kind: "audio", c: c, layers: []*webrtc.TrackLocalStaticRTP{tr}, stop: make(chan struct{})}
	t.paused.Store(o.StartPaused)
	tx, err := c.Pub.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, err
	}
	t.sender = tx.Sender()
	if err := c.Send(map[string]any{"type": "publish", "client_track_id": id, "kind": "audio", "source": o.Source}); err != nil {
		return nil, err
	}
	if err := c.Negotiate(ctx); err != nil {
		return nil, err
	}
	for _, e := range t.sender.GetParameters().HeaderExtensions {
		if e.URI == sdp.AudioLevelURI {
			t.levelExt = uint8(e.ID)
		}
	}
	c.goroutine(func() { t.readRTCP(0) })
	c.goroutine(func() { t.sendAudio(o) })
	return t, nil
}

func (c *Client) goroutine(fn func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

// readRTCP reads one layer's RTCP (pion gives each simulcast encoding
// its own RTCP stream) and turns keyframe requests into a keyframe at the
// next frame of that layer.
func (t *LocalTrack) readRTCP(layer int) {
	for {
		var pkts []rtcp.Packet
		var err error
		if len(t.layers) > 1 {
			pkts, _, err = t.sender.ReadSimulcastRTCP(rids[layer])
		} else {
			pkts, _, err = t.sender.ReadRTCP()
		}
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				t.PLIs.Add(1)
				t.keyframe[layer].Store(true)
			}
		}
	}
}

// sendVideo paces frames for every layer. One goroutine per track, one
// timer tick per frame: cheap enough that the load tool leaves the CPU to
// the server.
func (t *LocalTrack) sendVideo(o VideoOptions, codec string) {
	interval := time.Second / time.Duration(o.FPS)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	type state struct {
		seq  uint16
		ts   uint32
		pid  uint16
		last time.Time
	}
	st := make([]state, len(t.layers))
	total := 0 // bits per second of all layers
	for i := range st {
		st[i].seq = uint16(i * 10000)
		st[i].ts = uint32(i) * 1000000
		st[i].last = time.Now()
		if len(t.layers) == 1 {
			total += o.Bitrates[1]
		} else {
			total += o.Bitrates[i]
		}
	}
	// Packets are paced like a browser's sender (WebRTC's pacer sends at
	// 2.5× the target rate) instead of in one burst per frame: a burst of
	// a dozen packets makes an SFU fan-out queue behind itself, which is
	// not what real clients cause.
	pacing := 2.5 * float64(total)
	if o.Burst {
		pacing = math.Inf(1)
	}
	type out struct {
		layer   int
		hdr     rtp.Header
		payload []byte
		stampAt int // offset of the send-time stamp, -1 for none
	}
	var frame []out
	var pkt rtp.Packet
	lastKey := time.Now()
	frameNo := -1
	next := time.Now()
	for {
		select {
		case <-t.stop:
			return
		case <-t.c.ctx.Done():
			return
		case <-tick.C:
		}
		if t.paused.Load() {
			continue
		}
		frameNo++
		now := time.Now()
		periodic := now.Sub(lastKey) >= o.KeyframeInterval
		if periodic {
			lastKey = now
		}
		frame = frame[:0]
		for i := range t.layers {
			if t.off[i].Load() {
				continue
			}
			rate := o.Bitrates[i]
			if len(t.layers) == 1 {
				rate = o.Bitrates[1]
			}
			key := t.keyframe[i].Swap(false) || periodic
			size := rate / 8 / o.FPS
			if key {
				size *= 4
			}
			var src []byte
			if len(o.Frames) > 0 {
				src = o.Frames[frameNo%len(o.Frames)]
				size = len(src)
			}
			s := &st[i]
			s.ts += uint32(now.Sub(s.last) * 90000 / time.Second)
			s.last = now
			s.pid = (s.pid + 1) & 0x7fff
			const maxPayload = 1100
			for off := 0; off < size; off += maxPayload {
				n := min(maxPayload, size-off)
				first, last := off == 0, off+n >= size
				var p []byte
				stampAt := -1
				switch codec {
				case "vp8":
					if src != nil {
						p = make([]byte, 4+n)
						copy(p[4:], src[off:off+n])
						p[0] = 0x80
						if first {
							p[0] |= 0x10
						}
						p[1], p[2], p[3] = 0x80, 0x80|byte(s.pid>>8), byte(s.pid)
						break
					}
					p = make([]byte, max(n, 5+stampLen))
					p[0] = 0x80 // X
					if first {
						p[0] |= 0x10 // S, partition 0
					}
					p[1] = 0x80 // I: picture id present
					p[2] = 0x80 | byte(s.pid>>8)
					p[3] = byte(s.pid)
					p[4] = 0x01 // inter frame (bit 0 = 1)
					if key {
						p[4] = 0x00
					}
					stampAt = 5
				case "h264":
					p = make([]byte, max(n, 2+stampLen))
					nal := byte(1)
					if key {
						nal = 5
					}
					p[0] = 0x7c // FU-A, NRI 3
					p[1] = nal
					if first {
						p[1] |= 0x80
					}
					if last {
						p[1] |= 0x40
					}
					stampAt = 2
				}
				frame = append(frame, out{layer: i, payload: p, stampAt: stampAt,
					hdr: rtp.Header{Version: 2, Marker: last, SequenceNumber: s.seq, Timestamp: s.ts}})
				s.seq++
			}
		}
		// Interleave the layers (a browser's pacer round-robins its
		// streams: the k-th packet of each layer, then the k+1-th) and
		// pace; each layer's packets stay in sequence order.
		rank := make([]int, len(frame))
		count := make([]int, len(t.layers))
		for k, f := range frame {
			rank[k] = count[f.layer]
			count[f.layer]++
		}
		order := make([]int, len(frame))
		for k := range order {
			order[k] = k
		}
		sort.SliceStable(order, func(a, b int) bool { return rank[order[a]] < rank[order[b]] })
		for _, k := range order {
			f := frame[k]
			if d := time.Until(next); d > time.Millisecond {
				select {
				case <-t.stop:
					return
				case <-time.After(d):
				}
			}
			sent := time.Now()
			if f.stampAt >= 0 {
				putStamp(f.payload[f.stampAt:], sent)
			}
			pkt.Header = f.hdr
			if t.ridExt != 0 {
				pkt.Header.SetExtension(t.midExt, []byte(t.mid))
				pkt.Header.SetExtension(t.ridExt, []byte(rids[f.layer]))
			}
			pkt.Payload = f.payload
			if err := t.layers[f.layer].WriteRTP(&pkt); err != nil && !errors.Is(err, errClosedPipe) {
				return
			}
			t.Packets.Add(1)
			// A late wake-up sends the overdue packets at once (a pacer
			// with a budget), so timer granularity on a busy machine does
			// not lower the bitrate; more than 10 ms behind, start afresh.
			if sent.Sub(next) > 10*time.Millisecond {
				next = sent
			}
			next = next.Add(time.Duration(float64(len(f.payload)*8) / pacing * float64(time.Second)))
		}
	}
}

var errClosedPipe = errors.New("io: read/write on closed pipe")

// sendAudio sends one Opus packet every 20 ms. While paused nothing is
// sent and a file's position does not advance; RTP time keeps running, as
// it does for a browser whose track is disabled.
func (t *LocalTrack) sendAudio(o AudioOptions) {
	// Packets are paced on absolute deadlines (start + n·20 ms), like a
	// capture clock: a late wake-up sends the overdue packets at once
	// instead of dropping them (a time.Ticker drops ticks under load,
	// which would stretch the audio and break its timeline).
	const frame = 20 * time.Millisecond
	timer := time.NewTimer(frame)
	defer timer.Stop()
	buf := make([]byte, max(o.PayloadBytes, 1+stampLen))
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	buf[0] = 15 << 3 // TOC: config 15, hybrid fullband 20 ms, mono, one frame
	var pkt rtp.Packet
	pkt.Header = rtp.Header{Version: 2, SequenceNumber: 1, Timestamp: 960}
	if o.Level != nil {
		t.SetLevel(*o.Level, o.Voice)
	}
	next := 0 // index of the next file packet
	start := time.Now()
	for n := 1; ; n++ {
		if wait := time.Until(start.Add(time.Duration(n) * frame)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-t.stop:
				return
			case <-t.c.ctx.Done():
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-t.stop:
				return
			case <-t.c.ctx.Done():
				return
			default:
			}
		}
		pkt.Header.Timestamp += 960
		if t.paused.Load() {
			continue
		}
		if len(o.Packets) > 0 && next == len(o.Packets) {
			if !o.Loop {
				t.finished.Store(true)
				return
			}
			next = 0
		}
		pkt.Header.SequenceNumber++
		pkt.Header.Extension, pkt.Header.Extensions = false, pkt.Header.Extensions[:0]
		if o.Level != nil && t.levelExt != 0 {
			if l := t.level.Load(); l >= 0 {
				pkt.Header.SetExtension(t.levelExt, []byte{byte(l)})
			}
		}
		if len(o.Packets) > 0 {
			pkt.Payload = o.Packets[next]
			next++
		} else {
			putStamp(buf[1:], time.Now())
			pkt.Payload = buf
		}
		if err := t.layers[0].WriteRTP(&pkt); err != nil {
			return
		}
		t.Packets.Add(1)
	}
}

// Finished reports whether a track sending a file (without Loop) has sent
// all of it.
func (t *LocalTrack) Finished() bool { return t.finished.Load() }

// Mute tells the server to stop (or resume) forwarding the track. The
// client keeps sending, so a test sees that the server does the muting.
func (c *Client) Mute(t *LocalTrack, muted bool) error {
	return c.Send(map[string]any{"type": "mute", "track_id": t.ServerID(), "muted": muted})
}

// Unpublish ends a track: tells the server, stops sending, removes the
// sender and renegotiates.
func (c *Client) Unpublish(ctx context.Context, t *LocalTrack) error {
	if err := c.Send(map[string]any{"type": "unpublish", "track_id": t.ServerID()}); err != nil {
		return err
	}
	t.Stop()
	if err := c.Pub.RemoveTrack(t.sender); err != nil {
		return err
	}
	return c.Negotiate(ctx)
}

// Subscribe sets the layer wanted of a received track and whether it is
// paused.
func (c *Client) Subscribe(trackID, layer string, paused bool) error {
	return c.Send(map[string]any{"type": "subscription", "track_id": trackID, "layer": layer, "paused": paused})
}

// SetLevel changes the audio level the track reports (RFC 6464: dbov is
// -dBov, 0 loudest … 127 silence; voice sets the VAD bit).
func (t *LocalTrack) SetLevel(dbov uint8, voice bool) {
	v := int32(dbov & 0x7f)
	if voice {
		v |= 0x80
	}
	t.level.Store(v)
}
