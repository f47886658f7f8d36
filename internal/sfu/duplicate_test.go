package sfu

import (
	"testing"
	"time"
)

// TestDuplicatesAreNotForwarded: a publisher that resends packets it has
// already sent (Firefox pads its low simulcast layer this way when no RTX
// is negotiated, at 8× the layer's cap) costs the subscriber nothing: each
// sequence number goes out once, the copies are counted as dropped, and
// the layer's measured bitrate is what the encoder produced, so the layer
// still looks as cheap as it is to the subscribers who need it. A packet
// the server never received, resent on request, still goes through.
func TestDuplicatesAreNotForwarded(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, false)
		f.down.SetPreference(LayerLow, false)
		const frames = 50 // 2 s at 25 frames/s, one 1 000-byte packet each
		seq := uint16(100)
		lost := uint16(0)
		for i := range frames {
			s := seq + uint16(i)
			if i == 20 {
				lost = s // never arrives the first time
			} else {
				f.rig.receive(f.track, 0, vp8(0, s, 3600*uint32(i), i == 0, 1000))
			}
			// The padding: the last 7 packets again, as Firefox sends them.
			for back := uint16(1); back <= 7 && back <= uint16(i); back++ {
				if s-back != lost {
					f.rig.receive(f.track, 0, vp8(0, s-back, 3600*uint32(i)-3600*uint32(back), false, 1000))
				}
			}
			if i == 25 { // the repair of the lost packet
				f.rig.receive(f.track, 0, vp8(0, lost, 3600*20, false, 1000))
			}
			time.Sleep(40 * time.Millisecond)
		}
		got := parse(t, f.wire.take())
		seen := map[uint16]int{}
		for _, p := range got {
			seen[p.SequenceNumber]++
		}
		if len(got) != frames || len(seen) != frames {
			t.Fatalf("the subscriber got %d packets, %d distinct, want %d once each", len(got), len(seen), frames)
		}
		// 7 copies per frame, 28 fewer over the first 7 frames, none of the
		// lost packet (7): its repair is new.
		if d, want := f.rig.sfu.metrics.Snapshot().Drops[DropDuplicate], uint64(7*frames-28-7); d != want {
			t.Errorf("%d duplicates counted, want %d", d, want)
		}
		// 1 000 bytes of payload and header, 25 times a second: about 200 kb/s, not 8 times that.
		if r := f.track.LayerBitrate(0); r < 180_000 || r > 240_000 {
			t.Errorf("the layer's measured bitrate is %d b/s, want about 200 kb/s", r)
		}
	})
}
