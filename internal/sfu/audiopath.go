package sfu

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
}

// forwardAudio hands an audio packet to the sinks: first the frames its
// RED payload carries for packets that never arrived, then its own frame.
func (t *Track) forwardAudio(a *audioPath, p *Packet) {
	m := t.sfu.metrics
	if a.seen.mark(p.SequenceNumber) {
		m.drop(DropDuplicate, 1)
		return
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
			if len(b.payload) == 0 || b.tsOffset == 0 || a.seen.mark(seq) {
				continue
			}
			r := &a.rec
			r.Header = p.Header
			r.SequenceNumber, r.Timestamp, r.Marker = seq, p.Timestamp-b.tsOffset, false
			r.PayloadType = uint8(t.codec.PayloadType)
			r.Payload, r.Layer, r.Arrival = b.payload, p.Layer, p.Arrival
			m.recovered.Add(1)
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
