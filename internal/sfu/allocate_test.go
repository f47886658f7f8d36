package sfu

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// sim plays a simulcast publisher and a subscriber's browser around the
// rig. Every 20 ms, at 10 ms past (between the allocation ticks, which
// fall on multiples of 500 ms), each layer sends a frame: 375, 1250 and
// 3×1250 bytes, i.e. 150 kb/s, 500 kb/s and 1.5 Mb/s; the first frame
// after a PLI for a layer is a keyframe; a silent layer sends nothing.
// With every frame the browser reports remb as its REMB, while it is not
// 0.
type sim struct {
	r      *rig
	track  *Track
	sub    *Peer
	remb   atomic.Uint64
	lossy  atomic.Bool // with each REMB, a receiver report of 12 % lost
	silent [maxLayers]atomic.Bool
	stop   chan struct{}
	done   chan struct{}
}

var simFrame = [maxLayers][]int{{375}, {1250}, {1250, 1250, 1250}}

var simSSRC = []uint32{0x1000, 0x1001, 0x1002}

func newSim(t *testing.T) *sim {
	r := newRig(t)
	s := &sim{r: r, stop: make(chan struct{}), done: make(chan struct{})}
	s.track = r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", simSSRC...)
	s.sub = r.peer()
	time.Sleep(10 * time.Millisecond)
	go s.run()
	t.Cleanup(func() {
		close(s.stop)
		<-s.done
	})
	return s
}

func (s *sim) run() {
	defer close(s.done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var seq [maxLayers]uint16
	var answered [maxLayers]int
	for {
		for l := range simSSRC {
			plis := len(s.r.pubRTCP.plis(simSSRC[l]))
			key := plis > answered[l]
			answered[l] = plis
			if s.silent[l].Load() {
				continue
			}
			for _, size := range simFrame[l] {
				seq[l]++
				s.r.receive(s.track, l, vp8(l, seq[l], uint32(seq[l])*1000, key, size))
				key = false
			}
		}
		if bps := s.remb.Load(); bps != 0 {
			s.sub.bwe.setREMB(bps)
			if s.lossy.Load() {
				// What setLoss records of a report of high loss, without
				// the loss-based estimate (the tests follow REMB alone).
				s.sub.bwe.highLossAt.Store(nanotime())
			}
		}
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

// subscribe gives the subscriber a down-track, after the first frames so
// that all layers are flowing when it starts.
func (s *sim) subscribe(source string) *DownTrack {
	time.Sleep(5 * time.Millisecond)
	s.track.source = source
	d, _ := s.r.subscribe(s.sub, s.track, binding{ssrc: 0x9000, discard: true})
	return d
}

// step is a moment in a subscriber's life under a bandwidth estimate: at
// a time, the layer it should be moving to (and the one it should be
// forwarding, unless -1); then its browser reports remb as REMB from the
// next frame on (0: no change), or stops reporting (quiet).
type step struct {
	at      time.Duration
	target  int
	current int
	remb    uint64
	quiet   bool
	why     string
}

// follow subscribes to the simulated track as a camera wanted at the high
// layer and checks each step. Steps fall 5 ms past a multiple of 10 ms:
// never on a frame or an allocation tick. The browser reports loss with
// its REMB (a narrow link) when lossy, none otherwise (a jittery one).
func follow(t *testing.T, steps []step) { followOn(t, true, steps) }

func followOn(t *testing.T, lossy bool, steps []step) {
	inBubble(t, func(t *testing.T) {
		sm := newSim(t)
		sm.lossy.Store(lossy)
		d := sm.subscribe("camera")
		for _, st := range steps {
			sm.r.sleepUntil(st.at)
			cur, target := d.Layers()
			if target != st.target || (st.current >= 0 && cur != st.current) {
				t.Fatalf("at %v: forwarding layer %d, moving to %d; want %d (current %d): %s",
					st.at, cur, target, st.target, st.current, st.why)
			}
			if st.remb != 0 || st.quiet {
				sm.remb.Store(st.remb)
			}
		}
	})
}

const (
	medium, high = LayerMedium, LayerHigh
	ms           = time.Millisecond
)

// TestAllocationUnderEstimate follows one subscriber of a 150 kb/s /
// 500 kb/s / 1.5 Mb/s simulcast track through its REMB reports, with the
// rules of bwe.budget and allocate and their timings:
//   - an estimate caps the layers only under congestion: below 85 % of
//     what the subscriber is sent (1.3 Mb/s while sent 1.5 Mb/s is none);
//   - the cap is applied at the next allocation tick (every 500 ms) and
//     held for 5 s after the last congested tick, then lifted to probe;
//   - congestion again less than hold+10 s after the last doubles the
//     hold, up to 40 s; after a longer quiet time it is 5 s again.
func TestAllocationUnderEstimate(t *testing.T) {
	follow(t, []step{
		{995 * ms, high, high, 1_300_000, false, "no estimate: the wanted layer"},
		{4005 * ms, high, high, 1_200_000, false, "1.3 Mb/s while sent 1.5 Mb/s is no congestion"},
		{4495 * ms, high, -1, 0, false, "the cap waits for the tick"},
		{4505 * ms, medium, -1, 0, false, "1.2 Mb/s < 85 % of 1.5 Mb/s: capped at the tick"},
		{4535 * ms, medium, medium, 0, false, "switched on the keyframe asked for"},
		{9495 * ms, medium, -1, 0, false, "held 5 s after the last congested tick (4.5 s)"},
		{9505 * ms, high, -1, 0, false, "probe"},
		{9995 * ms, high, high, 0, false, "probing"},
		{10005 * ms, medium, -1, 0, false, "congested again 5.5 s after the last: hold 10 s"},
		{19995 * ms, medium, -1, 0, false, "held 10 s"},
		{20005 * ms, high, -1, 0, false, "probe"},
		{20505 * ms, medium, -1, 0, false, "congested again: hold 20 s"},
		{40495 * ms, medium, -1, 0, false, "held 20 s"},
		{40505 * ms, high, -1, 0, false, "probe"},
		{41005 * ms, medium, -1, 0, false, "congested again: hold 40 s"},
		{80995 * ms, medium, -1, 0, false, "held 40 s"},
		{81005 * ms, high, -1, 0, false, "probe"},
		{81505 * ms, medium, -1, 0, false, "congested again: hold stays 40 s"},
		{121495 * ms, medium, -1, 0, false, "held 40 s"},
		{121505 * ms, high, -1, 3_000_000, false, "probe; the estimate then recovers"},
		{175005 * ms, high, high, 1_200_000, false, "no congestion for 50 s"},
		{175505 * ms, medium, -1, 0, false, "congested 94 s after the last: hold 5 s again"},
		{180495 * ms, medium, -1, 0, false, "held 5 s"},
		{180505 * ms, high, -1, 3_000_000, false, "probe; the estimate recovers"},
		{187505 * ms, high, high, 1_200_000, false, "no congestion since 175.5 s"},
		{188005 * ms, medium, -1, 0, false, "congested 12.5 s after the last, within hold+10 s: hold 10 s"},
		{197995 * ms, medium, -1, 0, false, "held 10 s"},
		{198005 * ms, high, -1, 0, false, "probe"},
	})
}

// TestAllocationLowREMBWithoutLoss: a REMB below what is sent, with no
// loss reported (Chrome's delay-based estimator on a jittery path), is
// believed only once it has lasted 10 s; with loss, at once.
func TestAllocationLowREMBWithoutLoss(t *testing.T) {
	followOn(t, false, []step{
		{995 * ms, high, high, 300_000, false, "no estimate yet"},
		{1505 * ms, high, high, 0, false, "300 kb/s, no loss: not believed"},
		{10995 * ms, high, high, 0, false, "not yet 10 s"},
		{11505 * ms, LayerLow, -1, 0, false, "low for 10 s: believed"},
		{16495 * ms, LayerLow, -1, 3_000_000, false, "held 5 s"},
		{17005 * ms, high, -1, 300_000, false, "probe; the estimate recovered"},
		{17505 * ms, high, -1, 0, false, "low again, alone: not believed for 10 s"},
	})
}

// TestAllocationHeldCapFollowsEstimateUp checks that a held cap rises
// with the estimate: a subscriber whose browser reports more bandwidth
// during the hold gets the higher layer at the next tick, not at the end
// of the hold.
func TestAllocationHeldCapFollowsEstimateUp(t *testing.T) {
	follow(t, []step{
		{995 * ms, high, high, 1_200_000, false, "no estimate yet"},
		{1505 * ms, medium, -1, 0, false, "capped at 1.2 Mb/s, held until 6.5 s"},
		{2995 * ms, medium, medium, 3_000_000, false, "held"},
		{3495 * ms, medium, -1, 0, false, "the estimate waits for the tick"},
		{3505 * ms, high, -1, 0, false, "3 Mb/s lifts the held cap"},
	})
}

// TestAllocationStaleREMB checks that a REMB older than 5 s caps
// nothing: the browser reports once, is capped, and when the hold ends
// the report is 6 s old.
func TestAllocationStaleREMB(t *testing.T) {
	follow(t, []step{
		{995 * ms, high, high, 1_200_000, false, "no estimate yet"},
		{1015 * ms, high, high, 0, true, "one REMB, at 1.01 s"},
		{1505 * ms, medium, -1, 0, false, "capped, held until 6.5 s"},
		{6495 * ms, medium, -1, 0, false, "held 5 s"},
		{6505 * ms, high, -1, 0, false, "probe"},
		{7005 * ms, high, -1, 0, false, "the REMB is 6 s old: no cap"},
		{12005 * ms, high, high, 0, false, "still none"},
	})
}

// TestAllocationOrder checks how allocate shares a budget among a
// subscriber's video down-tracks: everyone gets the lowest layer, then
// screen shares are upgraded first, then the tracks wanted at a higher
// layer; paused down-tracks take no share, audio is served first; no
// budget means no cap. Each track's layers measure 150 kb/s, 500 kb/s and 1.5 Mb/s.
func TestAllocationOrder(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t)
		pub, sub := r.peer(), r.peer()
		rates := []uint64{150_000, 500_000, 1_500_000}
		video := func(source string, want int, paused bool) *DownTrack {
			tr := r.publish(pub, webrtc.MimeTypeVP8, source, 0x1000, 0x1001, 0x1002)
			for l, bps := range rates {
				r.receive(tr, l, vp8(l, 1, 0, false, 100)) // the layer is flowing
				tr.layerAt(l).rate.Store(bps)
			}
			d, _ := r.subscribe(sub, tr, binding{ssrc: 0x9000})
			d.SetPreference(want, paused)
			return d
		}
		// The order allocate is given: not the order it serves.
		camMedium := video("camera", LayerMedium, false)
		camHigh := video("camera", LayerHigh, false)
		paused := video("camera", LayerHigh, true)
		mic := r.publish(pub, webrtc.MimeTypeOpus, "microphone", 0x5000)
		r.receive(mic, 0, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 1}, Payload: make([]byte, 100)})
		mic.layerAt(0).rate.Store(40_000)
		audio, _ := r.subscribe(sub, mic, binding{ssrc: 0x9001})
		screen := video("screen", LayerHigh, false)
		downs := []*DownTrack{camMedium, camHigh, paused, audio, screen}

		// Audio (40 kb/s) is served first; its redundancy (twice as
		// much) only from what the video layers leave.
		cases := []struct {
			budget               uint64
			screen, high, medium int
			redRoom              bool
		}{
			{0, LayerHigh, LayerHigh, LayerMedium, true},          // no cap: what each wants
			{10_000_000, LayerHigh, LayerHigh, LayerMedium, true}, // all fits
			{1_940_000, LayerHigh, LayerLow, LayerLow, true},      // 40k + 450k + 1.35M: the screen first, 100k left
			{1_840_000, LayerHigh, LayerLow, LayerLow, false},     // just that: paused takes no share
			{1_540_000, LayerMedium, LayerMedium, LayerMedium, false},
			{1_240_000, LayerMedium, LayerMedium, LayerLow, false}, // the higher wish before the lower
			{100_000, LayerLow, LayerLow, LayerLow, false},         // below the lows: never nothing
		}
		for _, c := range cases {
			room := allocate(downs, c.budget)
			got := fmt.Sprint(layerOf(screen), layerOf(camHigh), layerOf(camMedium), room)
			if want := fmt.Sprint(c.screen, c.high, c.medium, c.redRoom); got != want {
				t.Errorf("budget %d: screen, camera wanted high, camera wanted medium on %s, room for RED; want %s", c.budget, got, want)
			}
		}
	})
}

func layerOf(d *DownTrack) int {
	_, target := d.Layers()
	return target
}

// TestLayerGoneQuiet checks that a subscriber moves off a layer the
// publisher stopped sending (as a browser drops its high layer when its
// uplink estimate falls) at the first allocation tick 350 ms after its
// last packet while the other layers still send, and back to it only
// once it has been sending again for 2 s; and that a whole track going
// quiet (a paused encoder) moves no one.
func TestLayerGoneQuiet(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		sm := newSim(t)
		d := sm.subscribe("camera")
		const ms = time.Millisecond
		check := func(at time.Duration, target, current int) {
			t.Helper()
			sm.r.sleepUntil(at)
			if cur, tg := d.Layers(); tg != target || (current >= 0 && cur != current) {
				t.Fatalf("at %v: forwarding %d, moving to %d; want %d (current %d)", at, cur, tg, target, current)
			}
		}
		check(1995*ms, LayerHigh, LayerHigh)
		sm.silent[LayerHigh].Store(true) // its last frame was at 1.99 s
		check(2495*ms, LayerHigh, -1)
		check(2505*ms, LayerMedium, -1) // 515 ms quiet at the tick
		check(2535*ms, LayerMedium, LayerMedium)
		sm.r.sleepUntil(4005 * ms)
		sm.silent[LayerHigh].Store(false) // back from 4.01 s
		check(5995*ms, LayerMedium, -1)
		check(6495*ms, LayerMedium, -1)
		check(6505*ms, LayerHigh, -1) // sending again for 2 s
		check(6535*ms, LayerHigh, LayerHigh)
		for l := range maxLayers {
			sm.silent[l].Store(true) // the encoder pauses at 7.01 s
		}
		check(7995*ms, LayerHigh, LayerHigh)
	})
}
