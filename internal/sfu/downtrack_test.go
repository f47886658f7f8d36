package sfu

import (
	"bytes"
	"maps"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// ev is one thing that happens to a published track, some time after the
// previous one: a packet arrives on a layer, or the test acts (do). A
// packet is either forwarded with the outgoing numbers given, or dropped,
// counted under the drop reason given ("" for a drop that is no loss: a
// layer the subscriber does not receive).
type ev struct {
	after  time.Duration
	do     func(f *fixture)
	layer  int
	seq    uint16
	ts     uint32
	key    bool
	drop   bool
	reason string
	outSeq uint16
	outTS  uint32
}

// fixture is one publisher, one track and one subscriber's down-track.
type fixture struct {
	rig   *rig
	track *Track
	down  *DownTrack
	wire  *wire
}

const (
	subSSRC = 0xabcd0001
	subPT   = 100
)

// newFixture publishes a VP8 track with three simulcast layers, or an
// Opus track, and subscribes one peer to it.
func newFixture(t *testing.T, audio bool) *fixture {
	r := newRig(t)
	f := &fixture{rig: r}
	if audio {
		f.track = r.publish(r.peer(), webrtc.MimeTypeOpus, "microphone", 0x5001)
	} else {
		f.track = r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", 0x1000, 0x1001, 0x1002)
	}
	f.down, f.wire = r.subscribe(r.peer(), f.track, binding{ssrc: subSSRC})
	return f
}

func (f *fixture) packet(e ev) *rtp.Packet {
	if f.track.kind == webrtc.RTPCodecTypeAudio {
		return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: e.seq, Timestamp: e.ts,
			SSRC: 0x5001}, Payload: []byte{0xfc, byte(e.seq >> 8), byte(e.seq)}}
	}
	return vp8(e.layer, e.seq, e.ts, e.key, 200)
}

// run plays the events and checks every packet the subscriber gets, from
// its bytes: the subscriber's SSRC and payload type, the rewritten
// numbers, the publisher's payload and marker untouched.
func (f *fixture) run(t *testing.T, events []ev) {
	t.Helper()
	for i, e := range events {
		time.Sleep(e.after)
		if e.do != nil {
			e.do(f)
			continue
		}
		before := f.rig.sfu.metrics.Snapshot().Drops
		in := f.packet(e)
		f.rig.receive(f.track, e.layer, in)
		got := parse(t, f.wire.take())
		drops := f.rig.sfu.metrics.Snapshot().Drops
		want := maps.Clone(before)
		if e.drop && e.reason != "" {
			want[e.reason]++
		}
		if !maps.Equal(drops, want) {
			t.Errorf("event %d (layer %d seq %d): drops %v, want %v", i, e.layer, e.seq, drops, want)
		}
		if e.drop {
			if len(got) != 0 {
				t.Errorf("event %d (layer %d seq %d): forwarded as seq %d, want dropped", i, e.layer, e.seq, got[0].SequenceNumber)
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("event %d (layer %d seq %d): %d packets out, want 1", i, e.layer, e.seq, len(got))
		}
		p := got[0]
		if p.SequenceNumber != e.outSeq || p.Timestamp != e.outTS {
			t.Errorf("event %d (layer %d seq %d ts %d): out seq %d ts %d, want seq %d ts %d",
				i, e.layer, e.seq, e.ts, p.SequenceNumber, p.Timestamp, e.outSeq, e.outTS)
		}
		if p.SSRC != subSSRC || p.PayloadType != subPT {
			t.Errorf("event %d: out ssrc %#x pt %d, want the subscriber's %#x %d", i, p.SSRC, p.PayloadType, uint32(subSSRC), subPT)
		}
		if p.Marker != in.Marker || !bytes.Equal(p.Payload, in.Payload) {
			t.Errorf("event %d: marker or payload changed on the way", i)
		}
	}
}

func prefer(layer int, paused bool) func(*fixture) {
	return func(f *fixture) { f.down.SetPreference(layer, paused) }
}

func mute(m bool) func(*fixture) { return func(f *fixture) { f.track.SetMuted(m) } }

// Video runs at 90 kHz: 3600 ticks per 40 ms frame. Opus at 48 kHz: 960
// per 20 ms.
const (
	frame    = 40 * time.Millisecond
	perFrame = 3600
	opusTick = 960
)

// TestDownTrackRewrite checks, packet by packet and from the bytes each
// subscriber gets, how a down-track rewrites a track into one continuous
// stream: the first run keeps the publisher's numbers; a gap stays a gap;
// sequence numbers and timestamps wrap; a layer switch, an unmute or an
// unpause starts a new run on a keyframe (any packet for audio) that
// follows the last packet sent, its timestamp advanced by the time since
// (at least one tick), whatever the publisher's numbers.
func TestDownTrackRewrite(t *testing.T) {
	const base2 = 3_000_000_000 // the high layer's own timestamp base
	top := uint32(0xffffff00)   // a timestamp 256 ticks before it wraps
	cases := []struct {
		name   string
		audio  bool
		events []ev
	}{
		{name: "first packet keeps its numbers, then continuous", events: []ev{
			{layer: 0, seq: 1000, ts: 10000, key: true, outSeq: 1000, outTS: 10000},
			{layer: 0, seq: 1001, ts: 10000, outSeq: 1001, outTS: 10000},
			{after: frame, layer: 0, seq: 1002, ts: 10000 + perFrame, outSeq: 1002, outTS: 10000 + perFrame},
		}},
		{name: "waits for a keyframe to start", events: []ev{
			{layer: 0, seq: 1000, ts: 10000, drop: true, reason: DropKeyframe},
			{after: frame, layer: 0, seq: 1001, ts: 13600, drop: true, reason: DropKeyframe},
			{after: frame, layer: 0, seq: 1002, ts: 17200, key: true, outSeq: 1002, outTS: 17200},
		}},
		{name: "a gap stays a gap, for the subscriber to NACK", events: []ev{
			{layer: 0, seq: 1000, ts: 10000, key: true, outSeq: 1000, outTS: 10000},
			{layer: 0, seq: 1001, ts: 10000, outSeq: 1001, outTS: 10000},
			{after: frame, layer: 0, seq: 1004, ts: 13600, outSeq: 1004, outTS: 13600},
		}},
		{name: "sequence number wraps at 65535", events: []ev{
			{layer: 0, seq: 65534, ts: 10000, key: true, outSeq: 65534, outTS: 10000},
			{layer: 0, seq: 65535, ts: 10000, outSeq: 65535, outTS: 10000},
			{layer: 0, seq: 0, ts: 10000, outSeq: 0, outTS: 10000},
			{after: frame, layer: 0, seq: 1, ts: 13600, outSeq: 1, outTS: 13600},
		}},
		{name: "timestamp wraps at 2^32", events: []ev{
			{layer: 0, seq: 1000, ts: top, key: true, outSeq: 1000, outTS: top},
			{after: frame, layer: 0, seq: 1001, ts: top + perFrame, outSeq: 1001, outTS: top + perFrame},
		}},
		{name: "reordered packet keeps its number", events: []ev{
			{layer: 0, seq: 1000, ts: 10000, key: true, outSeq: 1000, outTS: 10000},
			{layer: 0, seq: 1002, ts: 10000, outSeq: 1002, outTS: 10000},
			{layer: 0, seq: 1001, ts: 10000, outSeq: 1001, outTS: 10000},
			{after: frame, layer: 0, seq: 1003, ts: 13600, outSeq: 1003, outTS: 13600},
		}},
		{name: "layer switch: continuous numbers across timestamp bases", events: []ev{
			{do: prefer(LayerLow, false)},
			{layer: 0, seq: 1000, ts: 10000, key: true, outSeq: 1000, outTS: 10000},
			{layer: 2, seq: 50000, ts: base2, key: true, drop: true},
			{after: frame, layer: 0, seq: 1001, ts: 13600, outSeq: 1001, outTS: 13600},
			{layer: 2, seq: 50001, ts: base2 + perFrame, drop: true},
			{do: prefer(LayerHigh, false)},
			// The old layer flows until the new one has a keyframe.
			{layer: 2, seq: 50002, ts: base2 + perFrame, drop: true},
			{layer: 0, seq: 1002, ts: 13600, outSeq: 1002, outTS: 13600},
			{after: frame, layer: 2, seq: 50004, ts: base2 + 2*perFrame, key: true, outSeq: 1003, outTS: 13600 + perFrame},
			{layer: 0, seq: 1003, ts: 17200, drop: true},
			{after: frame, layer: 2, seq: 50005, ts: base2 + 3*perFrame, outSeq: 1004, outTS: 13600 + 2*perFrame},
			// A late packet from before the switch point is not forwarded.
			{layer: 2, seq: 50003, ts: base2 + perFrame, drop: true, reason: DropLate},
			// A copy of one forwarded already is not forwarded again.
			{layer: 2, seq: 50005, ts: base2 + 3*perFrame, drop: true, reason: DropDuplicate},
		}},
		{name: "switch in the same instant advances the timestamp one tick", events: []ev{
			{do: prefer(LayerLow, false)},
			{layer: 2, seq: 50000, ts: base2, drop: true},
			{layer: 0, seq: 1000, ts: 10000, key: true, outSeq: 1000, outTS: 10000},
			{do: prefer(LayerHigh, false)},
			{layer: 2, seq: 50001, ts: base2, key: true, outSeq: 1001, outTS: 10001},
		}},
		{name: "switch onto a base about to wrap", events: []ev{
			{do: prefer(LayerLow, false)},
			{layer: 2, seq: 65535, ts: top, drop: true},
			{layer: 0, seq: 1000, ts: 10000, key: true, outSeq: 1000, outTS: 10000},
			{do: prefer(LayerHigh, false)},
			{after: frame, layer: 2, seq: 0, ts: top + perFrame, key: true, outSeq: 1001, outTS: 10000 + perFrame},
			{after: frame, layer: 2, seq: 1, ts: top + 2*perFrame, outSeq: 1002, outTS: 10000 + 2*perFrame},
		}},
		{name: "a reordered packet does not pull the switch point back", events: []ev{
			{do: prefer(LayerLow, false)},
			{layer: 2, seq: 50000, ts: base2, drop: true},
			{layer: 0, seq: 1000, ts: 10000, key: true, outSeq: 1000, outTS: 10000},
			{layer: 0, seq: 1002, ts: 10000, outSeq: 1002, outTS: 10000},
			{layer: 0, seq: 1001, ts: 10000, outSeq: 1001, outTS: 10000},
			{do: prefer(LayerHigh, false)},
			{after: frame, layer: 2, seq: 50001, ts: base2 + perFrame, key: true, outSeq: 1003, outTS: 13600},
		}},
		{name: "unmute: a new run from a keyframe, time advanced by the mute", events: []ev{
			{layer: 0, seq: 1000, ts: 10000, key: true, outSeq: 1000, outTS: 10000},
			{after: frame, layer: 0, seq: 1001, ts: 13600, outSeq: 1001, outTS: 13600},
			{do: mute(true)},
			{after: frame, layer: 0, seq: 1002, ts: 17200, drop: true, reason: DropMuted},
			{do: mute(false)},
			// The publisher restarted its encoder: new numbers, new base.
			{after: 2 * time.Second, layer: 0, seq: 7000, ts: 900, drop: true, reason: DropKeyframe},
			{after: frame, layer: 0, seq: 7001, ts: 900 + perFrame, key: true, outSeq: 1002, outTS: 13600 + 90*2080},
			{after: frame, layer: 0, seq: 7002, ts: 900 + 2*perFrame, outSeq: 1003, outTS: 13600 + 90*2120},
		}},
		{name: "unpause: a new run from a keyframe, time advanced by the pause", events: []ev{
			{layer: 0, seq: 1000, ts: 10000, key: true, outSeq: 1000, outTS: 10000},
			{do: prefer(LayerHigh, true)},
			{after: frame, layer: 0, seq: 1001, ts: 13600, key: true, drop: true, reason: DropPaused},
			{after: time.Second, layer: 0, seq: 1002, ts: 13600 + 90*1000, drop: true, reason: DropPaused},
			{do: prefer(LayerHigh, false)},
			{after: frame, layer: 0, seq: 1003, ts: 13600 + 90*1040, drop: true, reason: DropKeyframe},
			{after: frame, layer: 0, seq: 1004, ts: 13600 + 90*1080, key: true, outSeq: 1001, outTS: 10000 + 90*1120},
		}},
		{name: "audio starts on any packet and keeps the numbers", audio: true, events: []ev{
			{seq: 300, ts: 48000, outSeq: 300, outTS: 48000},
			{after: 20 * time.Millisecond, seq: 301, ts: 48000 + opusTick, outSeq: 301, outTS: 48000 + opusTick},
		}},
		{name: "audio unmute: a new run on the next packet, time advanced by the mute", audio: true, events: []ev{
			{seq: 300, ts: 48000, outSeq: 300, outTS: 48000},
			{do: mute(true)},
			{after: 20 * time.Millisecond, seq: 301, ts: 48000 + opusTick, drop: true, reason: DropMuted},
			{do: mute(false)},
			{after: 1500 * time.Millisecond, seq: 9, ts: 5, outSeq: 301, outTS: 48000 + 48*1520},
			{after: 20 * time.Millisecond, seq: 10, ts: 5 + opusTick, outSeq: 302, outTS: 48000 + 48*1540},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T) { newFixture(t, c.audio).run(t, c.events) })
		})
	}
}
