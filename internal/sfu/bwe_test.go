package sfu

import (
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
	// Congestion: capped at the estimate for the hold time.
	b.remb.Store(300_000)
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
	b.sent.Store(1_600_000)
	b.remb.Store(300_000)
	b.budget(now)
	if b.hold != 2*minHold {
		t.Fatalf("hold %v after repeated congestion, want %v", b.hold, 2*minHold)
	}
}
