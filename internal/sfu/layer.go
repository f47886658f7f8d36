package sfu

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/sfu/packetcache"
	"github.com/pion/webrtc/v4"
)

// layer is one simulcast layer of a published track (or a track's only
// one): its stream, packet cache, repairs and measured bitrates. This
// file also has how layers are found, stall and come back.
type layer struct {
	index  int
	rid    string
	ssrc   uint32
	remote *webrtc.TrackRemote
	// rtxPT marks the payload types negotiated as RTX (bit n: type n).
	rtxPT [2]uint64

	lastPLI atomic.Int64 // nanotime
	pliDue  atomic.Bool  // a throttled request waits to be sent
	lastKey atomic.Int64 // nanotime of the last keyframe's first packet
	bytes   atomic.Uint64
	rate    atomic.Uint64 // bits per second over the last second
	rateAt  int64
	rateB   uint64
	// By temporal layer (VP8 with temporal layers): bytes received, at
	// the start of the rate window, and bits per second of the
	// temporal layers up to each (trate[1]: TID 0 and 1).
	tbytes, tbytesB [maxTemporal]uint64
	trate           [maxTemporal]atomic.Uint64
	temporal        atomic.Bool        // the layer has temporal layers
	lastAt          atomic.Int64       // nanotime of the last packet
	resumed         atomic.Int64       // nanotime it came back after a stall
	wokenAt         atomic.Int64       // nanotime the publisher was told to send it again
	fed             Packet             // the packet Feed parses into (a relayed layer)
	cache           *packetcache.Cache // serves NACKs
	rep             *repairs           // what to ask the publisher again
	audio           *audioPath         // audio only
}

// Layer stalls: a browser whose uplink estimate falls stops sending its
// upper simulcast layers, and sends them again when it recovers (Chrome
// on a lossy, jittery uplink: a layer gone for seconds several times a
// minute). Subscribers on a stalled layer see nothing until they are
// moved to another one, so a layer is given up after stallAfter of
// silence while another layer of the track still sends (1 s when none
// does: a paused encoder); one that comes back is taken again only once
// it has sent for resumeAfter, or a flapping layer would cost a
// keyframe switch each way each time.
const (
	stallAfter  = 350 * time.Millisecond
	resumeAfter = 2 * time.Second
)

// availableLayers returns a bitmask of layers that are receiving media.
func (t *Track) availableLayers() (mask uint8) {
	mask, _ = t.layerStates()
	return mask
}

// layerStates returns the layers available (see stallAfter) and those
// among them that came back from a stall less than resumeAfter ago.
func (t *Track) layerStates() (avail, recent uint8) {
	now := nanotime()
	var ls [maxLayers]*layer
	var at [maxLayers]int64
	var newest int64
	t.mu.Lock()
	copy(ls[:], t.layers[:])
	t.mu.Unlock()
	for i, l := range ls {
		if l != nil {
			at[i] = l.lastAt.Load()
			newest = max(newest, at[i])
		}
	}
	for i, l := range ls {
		idle := now - at[i]
		if l == nil || at[i] == 0 || idle >= int64(time.Second) || (idle > int64(stallAfter) && newest-at[i] > int64(stallAfter)) {
			continue
		}
		avail |= 1 << i
		if r := l.resumed.Load(); r != 0 && now-r < int64(resumeAfter) {
			recent |= 1 << i
		}
	}
	return avail, recent
}

func (t *Track) cacheOf(i int) *packetcache.Cache {
	if l := t.layerAt(i); l != nil {
		return l.cache
	}
	return nil
}

func (t *Track) layerAt(i int) *layer {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.layers[i]
}

// LayerBitrate returns the measured receive bitrate of one layer.
func (t *Track) LayerBitrate(i int) uint64 {
	if l := t.layerAt(i); l != nil {
		return l.rate.Load()
	}
	return 0
}

// temporalBitrate is the bitrate of layer i's temporal layers up to k,
// and whether the layer has temporal layers.
func (t *Track) temporalBitrate(i, k int) (uint64, bool) {
	if l := t.layerAt(i); l != nil && l.temporal.Load() {
		return l.trate[k].Load(), true
	}
	return 0, false
}

// layerIndex maps a rid to a quality. The publisher's announced rid order
// (low to high) wins; otherwise common browser names are recognised
// ("q"/"h"/"f", "l"/"m"/"h", "0"/"1"/"2").
func layerIndex(rid string, announced []string) int {
	if rid == "" {
		return 0
	}
	for i, r := range announced {
		if r == rid && i < maxLayers {
			return i
		}
	}
	switch strings.ToLower(rid) {
	case "q", "l", "low", "0":
		return LayerLow
	case "m", "mid", "medium", "1":
		return LayerMedium
	case "f", "hi", "high", "2":
		return LayerHigh
	case "h": // "half" among q/h/f, "high" among l/m/h
		if len(announced) > 0 {
			for _, r := range announced {
				if r == "f" {
					return LayerMedium
				}
			}
			return LayerHigh
		}
		return LayerMedium
	}
	return 0
}

func newLayer(kind webrtc.RTPCodecType, index int, ssrc uint32) *layer {
	l := &layer{index: index, ssrc: ssrc, rateAt: nanotime()}
	if kind == webrtc.RTPCodecTypeVideo {
		// 512 packets: ~3 s of the 1.5 Mb/s layer, well beyond the RTT of
		// any subscriber that can still use a retransmission.
		l.cache = packetcache.New(512)
		l.rep = newRepairs(false)
	} else {
		// Audio packets are small: 128 (2.5 s) cost at most 128 kB.
		l.cache = packetcache.New(128)
		l.rep = newRepairs(true)
		l.audio = &audioPath{enc: redEncoder{pt: ptOpus}}
	}
	return l
}

// account updates the layer's bitrate once per second. After a pause
// (a layer nobody watched, or a stall) the measurement starts again and
// the rate measured before stands meanwhile: a paused layer is not free,
// and bandwidth allocation must not take it for so.
func (l *layer) account(n uint64, tid int8, now int64) {
	b := l.bytes.Add(n)
	if tid >= 0 {
		l.tbytes[tid] += n
		if !l.temporal.Load() {
			l.temporal.Store(true)
		}
	}
	if dt := now - l.rateAt; dt >= int64(2*time.Second) && l.rate.Load() > 0 {
		l.rateB, l.rateAt = b-n, now
		l.tbytesB = l.tbytes
	} else if dt >= int64(time.Second) {
		l.rate.Store((b - l.rateB) * 8 * uint64(time.Second) / uint64(dt))
		l.rateB, l.rateAt = b, now
		var sum uint64
		for k := range l.tbytes {
			sum += l.tbytes[k] - l.tbytesB[k]
			l.trate[k].Store(sum * 8 * uint64(time.Second) / uint64(dt))
		}
		l.tbytesB = l.tbytes
	}
}

func (l *layer) markRTX(pt uint8) { l.rtxPT[pt>>6&1] |= 1 << (pt & 63) }

func (l *layer) isRTX(pt uint8) bool { return l.rtxPT[pt>>6&1]&(1<<(pt&63)) != 0 }
