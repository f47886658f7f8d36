package sfu

import (
	"sort"
	"sync"
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
//
// A REMB below what we send is believed when the receiver's reports
// show loss at the same time, or when it lasts. Chrome's estimator is
// delay-based: on a path with random jitter (±20 ms per packet, as on
// Wi-Fi or a mobile network) it reports a fraction of what the path
// carries, and capping on it held every subscriber on the lowest layer
// (measured: 240–500 kb/s reported on a link that carried 3 Mb/s, the
// lowest layer received, layer changes and their freezes every few
// seconds). A narrow link loses packets as soon as its queue is full, or
// delays them: a round trip (from the receiver's reports of our sender
// reports) 80 ms above the path's least is a queue. Either is congestion.
// Without round-trip measurements a low REMB alone is believed once it
// has lasted rembAlone.
type bwe struct {
	remb       atomic.Uint64 // bits per second, 0 = never reported
	rembAt     atomic.Int64
	loss       atomic.Uint64 // loss-based estimate, 0 = no limit seen yet
	highLossAt atomic.Int64  // last report of over 8 % lost (lossReports)
	sent       atomic.Uint64 // what we send now, bits per second

	rttMu     sync.Mutex
	rttMin    [2]time.Duration // least round trip of this and the last period
	rttPeriod int64            // start of this period
	rttAt     atomic.Int64     // last round-trip measurement
	rtt       atomic.Int64     // its value, ns
	queuedAt  atomic.Int64     // last round trip queueOver above the least
	// lostAt is when the subscriber last reported a loss (a NACK, or a
	// report with a fraction lost); noRoom that the budget left no room
	// for redundant audio at the last allocation. Both decide whether
	// its audio carries redundancy.
	lostAt atomic.Int64
	noRoom atomic.Bool

	// Owned by the peer's allocation goroutine.
	capBps    uint64
	capUntil  int64
	hold      time.Duration
	lastCapAt int64
	lowSince  int64 // REMB below what we send since, unconfirmed
}

const (
	rembFresh = 5 * time.Second
	minHold   = 5 * time.Second
	maxHold   = 40 * time.Second
	// lossRecent is how long a report of high loss confirms a low REMB;
	// rembAlone how long a low REMB must last to be believed alone.
	lossRecent = 3 * time.Second
	rembAlone  = 10 * time.Second
	// highLoss is the fraction lost (of 256) that confirms congestion:
	// 8 %, above what a lossy but uncongested path loses after repair.
	highLoss = 20
	// queueOver is the round trip above the path's least that means a
	// queue (jitter of ±20 ms per packet stays under it); rttPeriod is
	// how long a least round trip is remembered (two periods).
	queueOver = 80 * time.Millisecond
	rttWindow = 30 * time.Second
	// lossMemory is how long a reported loss keeps redundant audio on.
	lossMemory = 30 * time.Second
)

// redundancy tells whether audio sent now should carry the frames before
// it (RED, red.go): only on a path that lost packets in the last
// lossMemory, and from bandwidth the video layers leave (allocate):
// on a narrow link the copies would add to the load that causes the
// loss, or push the video down a layer (measured: a 500 kb/s downlink
// that fit the 640 px layer with Opus alone no longer did with RED's
// ~60 kb/s, and froze 7 s in 40 s).
//
// Where loss stays heavy (over highLoss after repair), audio comes before
// video resolution: redundancy even without room, the video layers then
// fitting what is left (measured: every tenth packet lost, Chrome's
// estimate at 40-190 kb/s, 1-1.9 % of audio concealed with redundancy
// off for want of room, 0.07 % with it on).
func (b *bwe) redundancy(now int64) bool {
	at := b.lostAt.Load()
	if at == 0 || now-at >= int64(lossMemory) {
		return false
	}
	return !b.noRoom.Load() || now-b.highLossAt.Load() < int64(lossMemory)
}

// setRTT records a round-trip measurement taken at now.
func (b *bwe) setRTT(rtt time.Duration, now int64) {
	b.rttMu.Lock()
	if now-b.rttPeriod >= int64(rttWindow) {
		b.rttMin[1], b.rttMin[0], b.rttPeriod = b.rttMin[0], 0, now
	}
	if b.rttMin[0] == 0 || rtt < b.rttMin[0] {
		b.rttMin[0] = rtt
	}
	least := b.rttMin[0]
	if b.rttMin[1] != 0 && b.rttMin[1] < least {
		least = b.rttMin[1]
	}
	b.rttMu.Unlock()
	b.rttAt.Store(now)
	b.rtt.Store(int64(rtt))
	if rtt > least+queueOver {
		b.queuedAt.Store(now)
	}
}

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

// estimate returns the subscriber's current estimate, or 0 for "none",
// and whether it is a REMB.
func (b *bwe) estimate() (uint64, bool) {
	if at := b.rembAt.Load(); at != 0 && nanotime()-at < int64(rembFresh) {
		return b.remb.Load(), true
	}
	return b.loss.Load(), false
}

// congested tells whether an estimate below what we send is to be
// believed now (see bwe).
func (b *bwe) congested(now int64, remb bool) bool {
	if !remb {
		return true // the loss-based estimate is loss already
	}
	if b.lowSince == 0 {
		b.lowSince = now
	}
	for _, at := range []int64{b.highLossAt.Load(), b.queuedAt.Load()} {
		if at != 0 && now-at < int64(lossRecent) {
			return true
		}
	}
	if at := b.rttAt.Load(); at != 0 && now-at < int64(lossRecent) {
		return false // round trips measured, and none queued
	}
	return now-b.lowSince >= int64(rembAlone)
}

// budget returns the bandwidth to allocate now, 0 meaning no limit.
// Called once per allocation tick.
func (b *bwe) budget(now int64) uint64 {
	est, remb := b.estimate()
	sent := b.sent.Load()
	low := est != 0 && sent != 0 && est < sent*85/100
	if !low {
		b.lowSince = 0
	}
	if low && b.congested(now, remb) {
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
//
// It returns whether the budget leaves room for redundant audio (RED:
// twice the audio bitrate more) once the layers are chosen.
func allocate(downs []*DownTrack, budget uint64) (redRoom bool) {
	type cand struct {
		d      *DownTrack
		want   int
		screen bool
	}
	var cs []cand
	var audio int64
	for _, d := range downs {
		if d.track.kind.String() != "video" {
			audio += int64(d.track.LayerBitrate(0))
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
			c.d.setBandwidthLayer(LayerHigh, maxTemporal-1)
		}
		return true
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].screen != cs[j].screen {
			return cs[i].screen
		}
		return cs[i].want > cs[j].want
	})
	// Everyone gets the lowest layer first, then upgrades in priority order.
	remaining := int64(budget) - audio
	layers := make([]int, len(cs))
	for i, c := range cs {
		remaining -= int64(c.d.track.LayerBitrate(LayerLow))
		layers[i] = LayerLow
	}
	temporal := make([]int, len(cs))
	for i, c := range cs {
		temporal[i] = maxTemporal - 1
		for l := c.want; l > LayerLow; l-- {
			extra := int64(c.d.track.LayerBitrate(l)) - int64(c.d.track.LayerBitrate(LayerLow))
			if extra <= remaining {
				remaining -= extra
				layers[i] = l
				break
			}
		}
	}
	// A budget between two layers: the upper one at a lower frame rate
	// when its temporal layers fit (temporal.go).
	for i, c := range cs {
		l := layers[i]
		if l >= c.want {
			continue
		}
		for k := maxTemporal - 2; k >= minTemporal; k-- {
			rate, ok := c.d.track.temporalBitrate(l+1, k)
			if !ok || rate == 0 {
				break
			}
			if extra := int64(rate) - int64(c.d.track.LayerBitrate(l)); extra <= remaining {
				remaining -= extra
				layers[i], temporal[i] = l+1, k
				break
			}
		}
	}
	for i, c := range cs {
		c.d.setBandwidthLayer(layers[i], temporal[i])
	}
	return remaining >= 2*audio
}
