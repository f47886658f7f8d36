package sfu

import (
	"bytes"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// redCodecs is what a subscriber negotiating Opus and RED binds.
var redCodecs = []webrtc.RTPCodecParameters{
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: ptOpus},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"}, PayloadType: ptRED},
}

// resendTo sends a subscriber's NACK for outgoing sequence numbers to a
// down-track and returns what it resent.
func resendTo(t *testing.T, d *DownTrack, w *wire, seqs ...uint16) []rtpPacketView {
	t.Helper()
	w.take()
	d.resend(&rtcp.TransportLayerNack{MediaSSRC: subSSRC, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)})
	var out []rtpPacketView
	for _, p := range parse(t, w.take()) {
		out = append(out, rtpPacketView{p.SequenceNumber, p.Timestamp, p.PayloadType, p.Payload})
	}
	return out
}

type rtpPacketView struct {
	seq     uint16
	ts      uint32
	pt      uint8
	payload []byte
}

// TestAudioNACKAnswered: a subscriber's NACK for audio is answered with
// the frame first sent under that number and timestamp — also a frame
// the server recovered from the publisher's RED, which never arrived as a
// packet of its own — as Opus to an Opus subscriber and as RED holding
// the frame alone to a RED subscriber. Numbers never sent, or sent
// too long ago for the cache, are not answered.
func TestAudioNACKAnswered(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t)
		tr := r.publishREDMic()
		opusDown, opusWire := r.subscribe(r.peer(), tr, binding{ssrc: subSSRC})
		redDown, redWire := r.subscribe(r.peer(), tr, binding{ssrc: subSSRC, codecs: redCodecs})
		pub := redEncoder{pt: 111}
		for seq := uint16(1); seq <= 30; seq++ {
			p := redPacket(&pub, seq)
			if seq != 10 { // lost on the uplink: recovered from 11's redundancy
				r.receive(tr, 0, p)
			}
			time.Sleep(20 * time.Millisecond)
		}
		sent := map[uint16]rtpPacketView{}
		for _, p := range parse(t, opusWire.take()) {
			sent[p.SequenceNumber] = rtpPacketView{p.SequenceNumber, p.Timestamp, p.PayloadType, p.Payload}
		}
		redWire.take()
		if len(sent) != 30 {
			t.Fatalf("the Opus subscriber got %d packets, want 30", len(sent))
		}
		first := slices.Min(slices.Collect(maps.Keys(sent)))
		out := func(seq uint16) uint16 { return first + seq - 1 }

		got := resendTo(t, opusDown, opusWire, out(5), out(10), out(30), out(31))
		if len(got) != 3 {
			t.Fatalf("resent %d packets for 4 NACKed (one never sent), want 3", len(got))
		}
		for i, seq := range []uint16{5, 10, 30} {
			want := sent[out(seq)]
			if got[i].seq != want.seq || got[i].ts != want.ts || got[i].pt != subPT || !bytes.Equal(got[i].payload, opusFrame(seq)) {
				t.Errorf("resent %+v for frame %d, first sent %+v", got[i], seq, want)
			}
		}

		got = resendTo(t, redDown, redWire, out(10), out(20))
		if len(got) != 2 {
			t.Fatalf("resent %d packets to the RED subscriber, want 2", len(got))
		}
		for i, seq := range []uint16{10, 20} {
			primary, blocks, err := splitRED(got[i].payload, nil)
			if err != nil || len(blocks) != 0 || got[i].pt != ptRED || !bytes.Equal(primary, opusFrame(seq)) {
				t.Errorf("resent to the RED subscriber: pt %d, %d redundant blocks, frame % x (err %v); want RED with frame %d alone",
					got[i].pt, len(blocks), primary, err, seq)
			}
		}

		// 200 packets later (4 s), frame 5 has left the cache.
		for seq := uint16(31); seq <= 230; seq++ {
			r.receive(tr, 0, redPacket(&pub, seq))
			time.Sleep(20 * time.Millisecond)
		}
		if got := resendTo(t, opusDown, opusWire, out(5)); len(got) != 0 {
			t.Errorf("a frame 4 s old was resent: %+v", got)
		}
	})
}

// TestPublisherAudioLossAskedFor: a lost audio packet is asked for
// as soon as the gap shows — from a publisher sending RED, once the two
// packets that could carry it have come — audioTries times, and given up
// without a keyframe request; those recovered from RED are never asked
// for; a gap after silence is not asked for either.
func TestPublisherAudioLossAskedFor(t *testing.T) {
	for _, c := range []struct {
		name  string
		red   bool
		lost  []uint16
		shown time.Duration // when the gap shows: the next packet's arrival
		wait  time.Duration
	}{
		{"opus", false, []uint16{10}, 200 * time.Millisecond, 0},
		{"red", true, []uint16{10, 11, 12}, 240 * time.Millisecond, redWait}, // 11 and 12 come with 13
	} {
		t.Run(c.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				r := newRig(t)
				const ssrc = 0x5001
				tr := r.publish(r.peer(), webrtc.MimeTypeOpus, "microphone", ssrc)
				tr.codec.PayloadType = 111
				if c.red {
					tr.redPT = ptRED
				}
				pub := redEncoder{pt: 111}
				var askedAt time.Duration
				send := func(from, to uint16) {
					for seq := from; seq <= to; seq++ {
						p := redPacket(&pub, seq)
						if !c.red {
							p.PayloadType, p.Payload = 111, opusFrame(seq)
						}
						if !slices.Contains(c.lost, seq) {
							r.receive(tr, 0, p)
						}
						time.Sleep(20 * time.Millisecond)
						if askedAt == 0 && len(r.pubRTCP.nacked(ssrc)) > 0 {
							askedAt = r.elapsed()
						}
					}
				}
				send(1, 40)
				if got := r.pubRTCP.nacked(ssrc); !slices.Equal(got, []uint16{10, 10}) {
					t.Errorf("asked for %v; want 10, %d times", got, audioTries)
				}
				if from := c.shown + c.wait; askedAt < from || askedAt > from+2*repairTick {
					t.Errorf("first asked for at %v; want %v after the gap showed at %v", askedAt, c.wait, c.shown)
				}
				time.Sleep(time.Second) // silence
				before := len(r.pubRTCP.nacked(ssrc))
				send(60, 70)
				if after := r.pubRTCP.nacked(ssrc); len(after) != before {
					t.Errorf("packets lost in a silence were asked for: %v", after[before:])
				}
				if plis := r.pubRTCP.plis(ssrc); len(plis) != 0 {
					t.Errorf("%d keyframe requests for an audio track", len(plis))
				}
			})
		})
	}
}

// TestMutedAudioNeverRecovered: the frames a muted publisher sent are
// not forwarded after it unmutes, though the first packets after the
// unmute carry them as RED redundancy.
func TestMutedAudioNeverRecovered(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t)
		tr := r.publishREDMic()
		_, w := r.subscribe(r.peer(), tr, binding{ssrc: subSSRC})
		pub := redEncoder{pt: 111}
		for seq := uint16(1); seq <= 30; seq++ {
			switch seq {
			case 11:
				tr.SetMuted(true)
			case 21:
				tr.SetMuted(false)
			}
			r.receive(tr, 0, redPacket(&pub, seq))
			time.Sleep(20 * time.Millisecond)
		}
		var frames []int
		for _, p := range parse(t, w.take()) {
			for seq := 1; seq <= 30; seq++ {
				if bytes.Equal(p.Payload, opusFrame(uint16(seq))) {
					frames = append(frames, seq)
				}
			}
		}
		want := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30}
		if !slices.Equal(frames, want) {
			t.Errorf("the subscriber got frames %v, want %v", frames, want)
		}
	})
}
