package sfu

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestPLIThrottle checks that subscribers waiting for a keyframe ask the
// publisher at most once per 500 ms per layer, however many of them ask
// and however often: three subscribers (two on the high layer, one on the
// low) see only delta frames for two seconds and ask on every one of
// them and on every allocation tick. Once keyframes arrive they stop
// asking; a later request on a quiet layer goes out at once.
func TestPLIThrottle(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t)
		ssrcs := []uint32{0x1000, 0x1001, 0x1002}
		tr := r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", ssrcs...)
		seq := [3]uint16{100, 5000, 9000}
		send := func(key bool) {
			for l := range ssrcs {
				seq[l]++
				r.receive(tr, l, vp8(l, seq[l], uint32(seq[l])*3000, key, 200))
			}
		}
		// Frames every 20 ms, at 10 ms past each 20 ms: between the
		// allocation ticks (every 500 ms from 0), which ask too.
		frames := func(until time.Duration, key bool) {
			next := (r.elapsed() + 10*time.Millisecond).Truncate(20*time.Millisecond) + 10*time.Millisecond
			for ; next < until; next += 20 * time.Millisecond {
				r.sleepUntil(next)
				send(key)
				key = false
			}
		}
		// The subscribers join a track whose layers are all flowing.
		send(false)
		var downs []*DownTrack
		for _, want := range []int{LayerHigh, LayerHigh, LayerLow} {
			d, _ := r.subscribe(r.peer(), tr, binding{ssrc: 0x9000})
			d.SetPreference(want, false)
			downs = append(downs, d)
		}
		ms := func(at []int64) []time.Duration {
			var out []time.Duration
			for _, a := range at {
				out = append(out, time.Duration(a-r.start).Round(time.Millisecond))
			}
			return out
		}

		frames(2*time.Second, false)
		asked := []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
		for l, want := range [][]time.Duration{asked, nil, asked} {
			if got := ms(r.pubRTCP.plis(ssrcs[l])); !slices.Equal(got, want) {
				t.Errorf("layer %d: PLIs at %v while waiting, want %v", l, got, want)
			}
		}

		// Keyframes at 2.01 s (the tick at 2 s asked once more), then
		// only deltas: nobody is waiting, nobody asks.
		frames(4*time.Second, true)
		for i, d := range downs {
			if cur, target := d.Layers(); cur != target {
				t.Fatalf("subscriber %d on layer %d, want %d", i, cur, target)
			}
		}
		asked = append(asked, 2*time.Second)
		for l, want := range [][]time.Duration{asked, nil, asked} {
			if got := ms(r.pubRTCP.plis(ssrcs[l])); !slices.Equal(got, want) {
				t.Errorf("layer %d: PLIs at %v after the keyframes, want %v", l, got, want)
			}
		}

		// A subscriber moving to the medium layer asks at once.
		now := r.elapsed()
		downs[0].SetPreference(LayerMedium, false)
		if got, want := ms(r.pubRTCP.plis(ssrcs[1])), []time.Duration{now}; !slices.Equal(got, want) {
			t.Errorf("medium layer: PLIs at %v, want %v", got, want)
		}
		total := 0
		for _, s := range ssrcs {
			total += len(r.pubRTCP.plis(s))
		}
		if n := r.sfu.metrics.Snapshot().PLIs; n != uint64(total) {
			t.Errorf("parley_pli_total %d, %d PLIs sent", n, total)
		}
	})
}

// TestThrottledPLIIsDeferred: a keyframe request within 500 ms of the
// last one is sent when the 500 ms end (the last may have been lost, as
// on a link coming back from an outage), once however many ask, and not
// at all if a keyframe arrives meanwhile.
func TestThrottledPLIIsDeferred(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t)
		ssrc := uint32(0x2000)
		tr := r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", ssrc)
		seq := uint16(1)
		frame := func(key bool) {
			seq++
			r.receive(tr, 0, vp8(0, seq, uint32(seq)*3000, key, 200))
		}
		frame(true)
		at := func() []time.Duration {
			var out []time.Duration
			for _, a := range r.pubRTCP.plis(ssrc) {
				out = append(out, time.Duration(a-r.start).Round(time.Millisecond))
			}
			return out
		}
		r.sleepUntil(1000 * time.Millisecond)
		tr.RequestKeyframe(0) // sent
		r.sleepUntil(1100 * time.Millisecond)
		tr.RequestKeyframe(0) // deferred to 1.5 s
		tr.RequestKeyframe(0)
		r.sleepUntil(1600 * time.Millisecond)
		if got, want := at(), []time.Duration{time.Second, 1500 * time.Millisecond}; !slices.Equal(got, want) {
			t.Fatalf("PLIs at %v, want %v", got, want)
		}
		r.sleepUntil(1700 * time.Millisecond)
		tr.RequestKeyframe(0) // deferred to 2 s…
		r.sleepUntil(1800 * time.Millisecond)
		frame(true) // …but answered by this keyframe
		r.sleepUntil(2500 * time.Millisecond)
		if got, want := at(), []time.Duration{time.Second, 1500 * time.Millisecond}; !slices.Equal(got, want) {
			t.Fatalf("PLIs at %v after a keyframe came, want %v", got, want)
		}
	})
}
