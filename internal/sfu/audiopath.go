package sfu

import "slices"

// The audio side of a track's read loop: frames recovered from a
// publisher's RED, and the RED written for subscribers (red.go).

// audioPath is the state of an audio layer's read loop: which packets
// arrived, frames recovered from RED, and the RED written for
// subscribers.
type audioPath struct {
	seen   seenWindow
	blocks []redBlock
	rec    Packet // a frame recovered from the next packet's redundancy
	enc    redEncoder
	buf    []byte
	raw    []byte // a recovered frame's packet, on its way to the cache
	// from is the first packet after the track was last unmuted (epoch):
	// frames before it, muted, are never recovered from its redundancy.
	epoch uint32
	from  uint16
}

// forwardAudio hands an audio packet of layer l to the sinks: first the
// frames its RED payload carries for packets that never arrived, then its
// own frame. A recovered frame is not asked for again, and is kept in the
// layer's cache as a packet of its own, for subscribers' NACKs.
func (t *Track) forwardAudio(l *layer, p *Packet) {
	m := t.sfu.metrics
	a := l.audio
	if a.seen.mark(p.SequenceNumber) {
		m.drop(DropDuplicate, 1)
		return
	}
	if e := t.epoch.Load(); e != a.epoch {
		a.epoch, a.from = e, p.SequenceNumber
	}
	if t.redPT != 0 && p.PayloadType == t.redPT {
		primary, blocks, err := splitRED(p.Payload, a.blocks)
		if err != nil {
			m.drop(DropMalformed, 1)
			return
		}
		a.blocks = blocks
		for k, b := range blocks {
			// Block k of n is the frame of the packet n-k before this
			// one (browsers send the frames of the packets just before).
			seq := p.SequenceNumber - uint16(len(blocks)-k)
			if len(b.payload) == 0 || b.tsOffset == 0 || (a.epoch != 0 && int16(seq-a.from) < 0) || a.seen.mark(seq) {
				continue
			}
			r := &a.rec
			r.Header = p.Header
			r.SequenceNumber, r.Timestamp, r.Marker = seq, p.Timestamp-b.tsOffset, false
			r.PayloadType = uint8(t.codec.PayloadType)
			r.Payload, r.Layer, r.Arrival = b.payload, p.Layer, p.Arrival
			m.recovered.Add(1)
			if l.rep != nil {
				l.rep.received(seq, p.Arrival, 0)
			}
			if l.cache != nil {
				n := r.Header.MarshalSize()
				a.raw = slices.Grow(a.raw[:0], n+len(r.Payload))[:n]
				if _, err := r.Header.MarshalTo(a.raw); err == nil {
					l.cache.Store(seq, append(a.raw, r.Payload...))
				}
			}
			t.sendAudio(a, r)
		}
		p.PayloadType = uint8(t.codec.PayloadType)
		p.Payload = primary
	}
	t.sendAudio(a, p)
}

func (t *Track) sendAudio(a *audioPath, p *Packet) {
	p.RED = a.enc.encode(a.buf[:0], p.SequenceNumber, p.Timestamp, p.Payload)
	a.buf = p.RED[:0]
	t.fanOut(p)
}
