package sfu

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// Unwatched simulcast layers are paused at the publisher. A browser
// encodes and sends every simulcast layer it was asked for, watched or
// not: in a meeting of two whose tiles ask for the 640 px layer, the
// 1280 px one was 60 % of each uplink for nobody, and on a lossy or
// narrow uplink the encoder's own estimate then starved the layers that
// were watched. The publisher is told which layers to send ("layers",
// docs/protocol.md): a layer no subscriber or recorder needs is paused
// once it has been unneeded for pauseAfter, and resumed as soon as one
// needs it (the browser's first frame of a resumed layer is a keyframe,
// which the subscriber's down-track switches on at once). The lowest
// layer is always sent: it is what every subscriber falls back to.
//
// A layer that comes back within wakeWithin of being asked for is not
// treated as one back from a stall (see stallAfter).
const (
	pauseAfter = 3 * time.Second
	wakeWithin = 5 * time.Second
)

// wantedLayers returns the layers some sink of the track needs: each
// unpaused subscriber's wish (its preference within its bandwidth cap)
// and the layer it is being sent while it switches, a recorder's layer;
// rounded down to the n layers the track has.
func (t *Track) wantedLayers(n int) (mask uint8) {
	sinks := t.sinks.Load()
	if sinks == nil {
		return 0
	}
	top := func(l int) uint8 { return 1 << min(max(l, 0), n-1) }
	for _, s := range *sinks {
		switch s := s.(type) {
		case *DownTrack:
			s.mu.Lock()
			if !s.paused {
				mask |= top(min(s.maxLayer, s.bwLayer))
				if s.current >= 0 {
					mask |= top(s.current)
				}
			}
			s.mu.Unlock()
		case *Tap:
			mask |= top(s.layer)
		default:
			mask |= 1<<n - 1
		}
	}
	return mask
}

// updateLayers tells the publisher of a simulcast track which layers to
// send, when that changes.
func (t *Track) updateLayers(now int64) {
	if t.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	t.mu.Lock()
	n := min(len(t.rids), maxLayers)
	t.mu.Unlock()
	if n < 2 {
		return
	}
	// One caller at a time, to the end: the publisher's tick and a
	// subscriber's new preference could otherwise send their messages
	// in the other order than they decided them.
	t.layersMu.Lock()
	defer t.layersMu.Unlock()
	want := t.wantedLayers(n) | 1
	t.mu.Lock()
	all := uint8(1<<n - 1)
	if t.sending == 0 {
		t.sending = all // the browser starts with every layer
	}
	next := t.sending
	for i := range n {
		bit := uint8(1) << i
		if want&bit != 0 {
			t.unneeded[i] = 0
			next |= bit
			continue
		}
		if t.unneeded[i] == 0 {
			t.unneeded[i] = now
		}
		if now-t.unneeded[i] >= int64(pauseAfter) {
			next &^= bit
		}
	}
	woken := next &^ t.sending
	changed := next != t.sending
	t.sending = next
	var rids []string
	for i := range n {
		if next&(1<<i) != 0 {
			rids = append(rids, t.rids[i])
		}
		if l := t.layers[i]; l != nil && woken&(1<<i) != 0 {
			l.wokenAt.Store(now)
		}
	}
	t.mu.Unlock()
	if changed {
		t.owner.log.Debug("simulcast layers", "track", t.id, "send", rids)
		t.owner.sig.SendLayers(t.id, rids)
	}
}

// retargetSinks lets every subscriber of the track choose its layer again
// (a layer it waited for has just come back).
func (t *Track) retargetSinks() {
	if sinks := t.sinks.Load(); sinks != nil {
		for _, s := range *sinks {
			if d, ok := s.(*DownTrack); ok {
				d.retarget()
			}
		}
	}
}
