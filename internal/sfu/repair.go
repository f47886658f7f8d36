package sfu

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// Asking publishers for lost packets (RTCP NACK, RFC 4585).
//
// pion's NACK generator cannot be used: a browser sends repairs as RTX
// (RFC 4588, its own SSRC), which pion hands to the application without
// passing them through the media stream's receive log, so the generator
// asked for every repaired packet again, ten times a second, until it
// left its 512-packet window. After a 2 s outage that was ~130 packets
// per layer asked for every 100 ms: the browser's pacer sends
// retransmissions before new media, so its fresh video waited seconds
// behind copies of packets nobody could use any more.
//
// Here the track's read loop sees every packet, repaired or not, and
// tells the layer's repairs; a packet is asked for at most repairTries
// times, repairEvery apart, and given up after repairFor (then a
// keyframe is asked for: subscribers of the layer have a broken frame).
// Packets lost while the layer was silent for longer than silentGap (an
// outage, a stall) are not asked for at all: by then they are stale, and
// a keyframe is what the subscribers need.
//
// Audio: a lost packet is given up sooner (audioRepairFor): a receiver's
// jitter buffer has played past it by then, so asking on would only
// spend the publisher's uplink. A publisher sending RED repeats each
// frame in its next two packets, so its lost packet is asked for only
// once those have had time to arrive (redWait). Where the round trip is
// longer than the receivers' buffers the repair comes too late and is
// dropped by them; it costs one small packet.
const (
	repairTick     = 20 * time.Millisecond
	repairEvery    = 100 * time.Millisecond
	repairTries    = 4
	repairFor      = time.Second
	redWait        = 50 * time.Millisecond
	audioTries     = 2
	audioRepairFor = 400 * time.Millisecond
	silentGap      = 300 * time.Millisecond
	maxMissing     = 256
)

type missingPacket struct {
	seq         uint16
	tries       uint8
	since, last int64 // nanotime: first seen missing, last asked for
}

// repairs tracks one layer's missing packets.
type repairs struct {
	giveUp int64 // after a packet first went missing
	tries  uint8
	audio  bool // a gap after silence needs no keyframe

	mu      sync.Mutex
	started bool
	highest uint16
	missing []missingPacket
}

// newRepairs returns the repairs of a video or an audio layer.
func newRepairs(audio bool) *repairs {
	if audio {
		return &repairs{giveUp: int64(audioRepairFor), tries: audioTries, audio: true}
	}
	return &repairs{giveUp: int64(repairFor), tries: repairTries}
}

// received records a packet: a newer one opens a gap of missing
// packets, an older one fills one. It reports whether the packets lost
// are not worth asking for (a gap after silence, or too many at once),
// in which case the layer needs a keyframe.
func (r *repairs) received(seq uint16, now, silence int64) (needKey bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		r.started, r.highest = true, seq
		return false
	}
	d := int16(seq - r.highest)
	if d <= 0 {
		for i := range r.missing {
			if r.missing[i].seq == seq {
				r.missing = append(r.missing[:i], r.missing[i+1:]...)
				break
			}
		}
		return false
	}
	gap := int(d) - 1
	from := r.highest + 1
	r.highest = seq
	if gap == 0 {
		return false
	}
	if silence > int64(silentGap) || len(r.missing)+gap > maxMissing {
		r.missing = r.missing[:0]
		return !r.audio
	}
	for i := 0; i < gap; i++ {
		r.missing = append(r.missing, missingPacket{seq: from + uint16(i), since: now})
	}
	return false
}

// due appends to seqs the packets to ask for now, those missing for at
// least wait, and drops those given up; gaveUp reports that one was given
// up unrepaired.
func (r *repairs) due(now, wait int64, seqs []uint16) (_ []uint16, gaveUp bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.missing[:0]
	for _, m := range r.missing {
		if now-m.since > r.giveUp {
			gaveUp = !r.audio
			continue
		}
		if now-m.since >= wait && m.tries < r.tries && (m.tries == 0 || now-m.last >= int64(repairEvery)) {
			m.tries++
			m.last = now
			seqs = append(seqs, m.seq)
		}
		kept = append(kept, m)
	}
	r.missing = kept
	return seqs, gaveUp
}

// repairLoop sends the publisher's NACKs for every layer it publishes,
// every repairTick.
func (p *Peer) repairLoop() {
	tick := time.NewTicker(repairTick)
	defer tick.Stop()
	var seqs []uint16
	var tracks []*Track
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		// Into a reused slice: most peers publish little or nothing.
		tracks = tracks[:0]
		p.mu.Lock()
		for _, t := range p.tracks {
			tracks = append(tracks, t)
		}
		p.mu.Unlock()
		if len(tracks) == 0 {
			continue
		}
		now := nanotime()
		var pkts []rtcp.Packet
		for _, t := range tracks {
			wait := int64(0)
			if t.redPT != 0 {
				wait = int64(redWait)
			}
			for i := 0; i < maxLayers; i++ {
				l := t.layerAt(i)
				if l == nil || l.rep == nil {
					continue
				}
				var gaveUp bool
				seqs, gaveUp = l.rep.due(now, wait, seqs[:0])
				if gaveUp {
					t.RequestKeyframe(i)
				}
				if len(seqs) > 0 {
					p.sfu.metrics.nacksSent.Add(uint64(len(seqs)))
					pkts = append(pkts, &rtcp.TransportLayerNack{MediaSSRC: l.ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)})
				}
			}
		}
		if len(pkts) > 0 {
			_ = p.pub.WriteRTCP(pkts)
		}
	}
}
