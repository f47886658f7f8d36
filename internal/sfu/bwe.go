package sfu

import (
	"sort"
	"sync/atomic"
	"time"
)

// bwe is a subscriber's bandwidth budget. Browsers report REMB (their
// receive-side estimate, negotiated with goog-remb); without REMB the
// estimate follows receiver-report loss, as in RFC 8698 §4's loss-based
// controller: above 10 % loss back off to 85 % of what we send, below 2 %
// grow 8 % per report.
//
// An estimate is used as a cap only when it says the subscriber is
// congested (it is below what we send). Chrome's receive-side estimator
// never reports more than ~1.5× what it receives, so a subscriber kept on
// the 150 kb/s layer by its own estimate would never be offered the
// 500 kb/s one. Instead: uncapped until congestion, then capped at the
// estimate for a hold time (5 s, doubling up to 40 s when congestion comes
// back soon after), then uncapped again to probe with real media.
type bwe struct {
	remb   atomic.Uint64 // bits per second, 0 = never reported
	rembAt atomic.Int64
	loss   atomic.Uint64 // loss-based estimate, 0 = no limit seen yet
	sent   atomic.Uint64 // what we send now, bits per second

	// Owned by the peer's allocation goroutine.
	capBps    uint64
	capUntil  int64
	hold      time.Duration
	lastCapAt int64
}

const (
	rembFresh = 5 * time.Second
	minHold   = 5 * time.Second
	maxHold   = 40 * time.Second
)

func (b *bwe) setREMB(bps uint64) {
	b.remb.Store(bps)
	b.rembAt.Store(nanotime())
}

func (b *bwe) setLoss(fraction uint8) {
	sent := b.sent.Load()
	cur := b.loss.Load()
	switch {
	case fraction > 25: // > 10 %
		b.loss.Store(sent * 85 / 100)
	case fraction < 5 && cur != 0: // < 2 %
		b.loss.Store(cur * 108 / 100)
	}
}

// estimate returns the subscriber's current estimate, or 0 for "none".
func (b *bwe) estimate() uint64 {
	if at := b.rembAt.Load(); at != 0 && nanotime()-at < int64(rembFresh) {
		return b.remb.Load()
	}
	return b.loss.Load()
}

// budget returns the bandwidth to allocate now, 0 meaning no limit.
// Called once per allocation tick.
func (b *bwe) budget(now int64) uint64 {
	est, sent := b.estimate(), b.sent.Load()
	if est != 0 && sent != 0 && est < sent*85/100 {
		// Congested: cap, and hold longer if it is soon after the last time.
		if b.capBps == 0 {
			if b.lastCapAt != 0 && now-b.lastCapAt < int64(b.hold+10*time.Second) {
				b.hold = min(2*b.hold, maxHold)
			} else {
				b.hold = minHold
			}
		}
		b.capBps, b.capUntil, b.lastCapAt = est, now+int64(b.hold), now
		return est
	}
	if b.capBps != 0 {
		if now < b.capUntil {
			b.capBps = max(b.capBps, est) // the estimate recovers while held
			return b.capBps
		}
		b.capBps = 0 // probe: offer the wanted layers again
	}
	return 0
}

// allocate caps each video down-track's layer so that the sum of the
// layers' measured bitrates fits the estimate. Screen shares are served
// first, then tracks the subscriber wants at a higher layer. Audio is
// never capped (32 kb/s is not where the bandwidth goes).
func allocate(downs []*DownTrack, budget uint64) {
	type cand struct {
		d      *DownTrack
		want   int
		screen bool
	}
	var cs []cand
	for _, d := range downs {
		if d.track.kind.String() != "video" {
			continue
		}
		d.mu.Lock()
		want, paused := d.maxLayer, d.paused
		d.mu.Unlock()
		if paused {
			continue
		}
		cs = append(cs, cand{d, want, d.track.source == "screen"})
	}
	if budget == 0 {
		for _, c := range cs {
			c.d.setBandwidthLayer(LayerHigh)
		}
		return
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].screen != cs[j].screen {
			return cs[i].screen
		}
		return cs[i].want > cs[j].want
	})
	// Everyone gets the lowest layer first, then upgrades in priority order.
	remaining := int64(budget)
	layers := make([]int, len(cs))
	for i, c := range cs {
		remaining -= int64(c.d.track.LayerBitrate(LayerLow))
		layers[i] = LayerLow
	}
	for i, c := range cs {
		for l := c.want; l > LayerLow; l-- {
			extra := int64(c.d.track.LayerBitrate(l)) - int64(c.d.track.LayerBitrate(LayerLow))
			if extra <= remaining {
				remaining -= extra
				layers[i] = l
				break
			}
		}
	}
	for i, c := range cs {
		c.d.setBandwidthLayer(layers[i])
	}
}
