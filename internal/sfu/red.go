package sfu

import "errors"

// Redundant audio (RFC 2198, "audio/red" as browsers offer it for Opus):
// each packet carries, besides its own frame (the primary), copies of the
// frames of the packets just before it, so a receiver that lost one packet
// recovers its frame from the next. Opus in-band FEC recovers a lower-
// quality version of one lost frame; RED recovers the frame itself, and
// two of them in a row.
//
// The server reads RED from publishers that send it (their uplink losses
// are repaired before anything is forwarded, so subscribers, transcripts
// and recordings all get the frames back) and writes RED of its own, from
// the frames it forwards, to every subscriber that negotiated it: the
// downlink is protected whatever the publisher sends.

// ptRED is Chrome's payload type for audio/red.
const (
	ptRED   = 63
	mimeRED = "audio/red"
)

// redDistance is how many earlier frames each packet the server sends
// carries: two, as Chrome sends, so a burst of two lost packets is
// repaired. At Opus's usual 30-60 kb/s that triples the audio bitrate on
// the subscriber's link, about 100 kb/s, small beside video.
const redDistance = 2

// RED block headers: F bit, 7-bit payload type, and for all but the last
// block a 14-bit timestamp offset and a 10-bit length.
const (
	redMaxOffset = 1<<14 - 1
	redMaxLength = 1<<10 - 1
	redMaxBlocks = 8
)

// redBlock is one earlier frame inside a RED payload.
type redBlock struct {
	tsOffset uint32 // how many clock ticks before the primary it starts
	payload  []byte
}

var errBadRED = errors.New("malformed RED payload")

// splitRED parses a RED payload: the earlier frames, oldest first
// (appended to blocks, whose storage is reused), and the primary frame.
// The slices alias payload. More than redMaxBlocks earlier frames is
// taken for garbage.
func splitRED(payload []byte, blocks []redBlock) (primary []byte, out []redBlock, err error) {
	out = blocks[:0]
	var lengths [redMaxBlocks]int
	i, total := 0, 0
	for {
		if i >= len(payload) {
			return nil, nil, errBadRED
		}
		if payload[i]&0x80 == 0 { // the last header: the primary's
			i++
			break
		}
		if i+4 > len(payload) || len(out) == redMaxBlocks {
			return nil, nil, errBadRED
		}
		h := uint32(payload[i+1])<<16 | uint32(payload[i+2])<<8 | uint32(payload[i+3])
		lengths[len(out)] = int(h & redMaxLength)
		total += int(h & redMaxLength)
		out = append(out, redBlock{tsOffset: h >> 10})
		i += 4
	}
	if i+total > len(payload) {
		return nil, nil, errBadRED
	}
	for k := range out {
		n := lengths[k]
		out[k].payload = payload[i : i+n : i+n]
		i += n
	}
	return payload[i:], out, nil
}

// redEncoder writes RED payloads from a stream of frames: each packet
// carries up to redDistance frames sent just before it, when they are
// consecutive in sequence and close enough in time to be described.
type redEncoder struct {
	pt   uint8 // the Opus payload type written in block headers
	hist [redDistance]redFrame
	n    int // frames in hist, the newest at hist[(n-1)%redDistance]
}

type redFrame struct {
	seq  uint16
	ts   uint32
	data []byte // owned, reused
}

// encode appends to dst the RED payload for the frame (seq, ts, primary)
// and remembers the frame. A frame older than the last one (reordered)
// gets no redundancy and is not remembered.
func (e *redEncoder) encode(dst []byte, seq uint16, ts uint32, primary []byte) []byte {
	var use [redDistance]*redFrame
	k := 0
	newer := e.n == 0 || int16(seq-e.hist[(e.n-1)%redDistance].seq) > 0
	if newer {
		for d := redDistance; d >= 1; d-- { // oldest first
			if d > e.n {
				continue
			}
			f := &e.hist[(e.n-d)%redDistance]
			off := ts - f.ts
			if seq-f.seq != uint16(d) || off == 0 || off > redMaxOffset || len(f.data) > redMaxLength {
				continue
			}
			use[k] = f
			k++
		}
	}
	size := 1 + len(primary)
	for _, f := range use[:k] {
		size += 4 + len(f.data)
	}
	if size > 1200 { // keep under a path MTU: send the primary alone
		k = 0
	}
	for _, f := range use[:k] {
		h := (ts-f.ts)<<10 | uint32(len(f.data))
		dst = append(dst, 0x80|e.pt, byte(h>>16), byte(h>>8), byte(h))
	}
	dst = append(dst, e.pt)
	for _, f := range use[:k] {
		dst = append(dst, f.data...)
	}
	dst = append(dst, primary...)
	if newer {
		f := &e.hist[e.n%redDistance]
		f.seq, f.ts, f.data = seq, ts, append(f.data[:0], primary...)
		e.n++
	}
	return dst
}

// reset forgets the frames sent so far (a new run after a pause).
func (e *redEncoder) reset() { e.n = 0 }

// seenWindow remembers which of the last 64 sequence numbers arrived, so
// a frame carried as redundancy is used only when its own packet was
// lost, and a late copy of a recovered packet is recognised.
type seenWindow struct {
	top     uint16
	bits    uint64 // bit i: top-i arrived
	started bool
}

// mark records seq and reports whether it had already arrived. A number
// more than 64 behind the newest is reported as new.
func (w *seenWindow) mark(seq uint16) (dup bool) {
	if !w.started {
		w.top, w.bits, w.started = seq, 1, true
		return false
	}
	d := int16(seq - w.top)
	switch {
	case d > 0:
		if d >= 64 {
			w.bits = 0
		} else {
			w.bits <<= uint(d)
		}
		w.top = seq
		w.bits |= 1
		return false
	case -d >= 64:
		return false
	default:
		bit := uint64(1) << uint(-d)
		dup = w.bits&bit != 0
		w.bits |= bit
		return dup
	}
}
