package sfu

import (
	"github.com/pion/rtcp"
	"testing"
	"time"
)

func TestBudgetCapsOnCongestionThenProbes(t *testing.T) {
	var b bwe
	now := int64(time.Hour)
	tick := func(d time.Duration) { now += int64(d) }
	b.sent.Store(1_600_000)
	if got := b.budget(now); got != 0 {
		t.Fatalf("no estimate: budget %d, want unlimited", got)
	}
	// An estimate above what we send is no cap (Chrome reports ~1.5× what
	// it receives; capping on it would never let a layer up).
	b.rembAt.Store(nanotime())
	b.remb.Store(2_000_000)
	if got := b.budget(now); got != 0 {
		t.Fatalf("uncongested: budget %d", got)
	}
	// Congestion, with loss: capped at the estimate for the hold time.
	b.remb.Store(300_000)
	if got := b.budget(now); got != 0 {
		t.Fatalf("a low REMB without loss: budget %d, want none yet", got)
	}
	b.highLossAt.Store(now)
	if got := b.budget(now); got != 300_000 {
		t.Fatalf("congested: budget %d", got)
	}
	b.sent.Store(200_000)
	b.remb.Store(320_000)
	tick(4 * time.Second)
	b.rembAt.Store(nanotime())
	if got := b.budget(now); got != 320_000 {
		t.Fatalf("held: budget %d, want the recovering estimate", got)
	}
	tick(2 * time.Second)
	if got := b.budget(now); got != 0 {
		t.Fatalf("after the hold: budget %d, want a probe (unlimited)", got)
	}
	// Congestion again soon after: the hold doubles.
	b.highLossAt.Store(now)
	b.sent.Store(1_600_000)
	b.remb.Store(300_000)
	b.budget(now)
	if b.hold != 2*minHold {
		t.Fatalf("hold %v after repeated congestion, want %v", b.hold, 2*minHold)
	}
}

// TestRoundTripFromReports: a report block's LSR and DLSR give the round
// trip; blocks about no sender report, or giving nonsense, give none.
func TestRoundTripFromReports(t *testing.T) {
	sent := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	lsr := uint32(ntpTime(sent) >> 16)
	// Held 30 ms at the receiver, back 130 ms after it was sent: 100 ms.
	r := rtcp.ReceptionReport{LastSenderReport: lsr, Delay: uint32(30 * 65536 / 1000)}
	got, ok := roundTrip(r, sent.Add(130*time.Millisecond))
	if !ok || got < 99*time.Millisecond || got > 101*time.Millisecond {
		t.Fatalf("round trip %v %v, want 100 ms", got, ok)
	}
	if _, ok := roundTrip(rtcp.ReceptionReport{}, sent); ok {
		t.Error("a block about no sender report gave a round trip")
	}
	if _, ok := roundTrip(rtcp.ReceptionReport{LastSenderReport: lsr, Delay: 65536}, sent.Add(100*time.Millisecond)); ok {
		t.Error("a delay longer than the round trip gave one")
	}
}

// TestQueueConfirmsLowREMB: with round trips measured, a low REMB is
// believed when they rise 80 ms above the path's least (a queue), and
// not while they stay near it (jitter), however long it lasts.
func TestQueueConfirmsLowREMB(t *testing.T) {
	var b bwe
	now := int64(time.Hour)
	b.sent.Store(1_600_000)
	b.rembAt.Store(nanotime())
	b.remb.Store(300_000)
	for i := range 40 { // 20 s of jittery round trips, 100 ± 20 ms
		rtt := 100*time.Millisecond + time.Duration(i%5-2)*10*time.Millisecond
		b.setRTT(rtt, now)
		b.rembAt.Store(nanotime())
		if got := b.budget(now); got != 0 {
			t.Fatalf("at %d ms, round trip %v: budget %d, want none (jitter is no queue)", i*500, rtt, got)
		}
		now += int64(500 * time.Millisecond)
	}
	b.setRTT(190*time.Millisecond, now) // 110 ms over the least
	if got := b.budget(now); got != 300_000 {
		t.Fatalf("a queue: budget %d, want the REMB", got)
	}
}

// TestLossReportsCountWhatWasNeverRepaired: loss is measured from the
// cumulative count over at least 100 packets, so packets late or resent
// (a high fraction lost in one report, the total not growing) are not
// congestion, and packets lost for good, twice in a row, are.
func TestLossReportsCountWhatWasNeverRepaired(t *testing.T) {
	var l lossReports
	rep := func(seq, lost uint32, fraction uint8) bool {
		return l.add(rtcp.ReceptionReport{LastSequenceNumber: seq, TotalLost: lost, FractionLost: fraction})
	}
	if rep(1000, 3, 0) {
		t.Fatal("the first report measures nothing")
	}
	if rep(1060, 6, 80) {
		t.Fatal("60 packets: too few to measure")
	}
	if rep(1100, 5, 70) { // 2 lost of 100 since 1000, repairs done
		t.Fatal("2 % lost counted as congestion")
	}
	if rep(1200, 17, 30) { // 12 of 100, once
		t.Fatal("one measurement of 12 % lost counted")
	}
	if rep(1300, 19, 10) { // 2 of 100
		t.Fatal("2 % lost counted")
	}
	if rep(1400, 31, 30) || !rep(1500, 45, 30) { // 12 %, then 14 %
		t.Fatal("12 % then 14 % lost not counted")
	}
	if rep(500, 45, 0) || rep(600, 60, 0) { // restarted: measure afresh
		t.Fatal("a stream starting over counted as loss")
	}
}
