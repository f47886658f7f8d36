package sfu

// isKeyframeStart reports whether an RTP payload is the first packet of a
// keyframe, the only place a subscriber can start decoding or switch
// simulcast layers.
func isKeyframeStart(codec codecKind, payload []byte) bool {
	switch codec {
	case codecVP8:
		return vp8KeyframeStart(payload)
	case codecH264:
		return h264KeyframeStart(payload)
	}
	return false
}

type codecKind uint8

const (
	codecOther codecKind = iota
	codecOpus
	codecVP8
	codecH264
)

// vp8KeyframeStart parses the VP8 payload descriptor (RFC 7741 §4.2) and
// the first byte of the VP8 payload header (RFC 6386 §9.1: bit 0 is 0 on a
// key frame). Only the first packet of a partition-0 frame (S=1, PID=0)
// carries that header.
func vp8KeyframeStart(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b0 := p[0]
	if b0&0x10 == 0 || b0&0x07 != 0 { // S bit, partition index
		return false
	}
	i := 1
	if b0&0x80 != 0 { // X: extension byte
		if len(p) < 2 {
			return false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX byte
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	return p[i]&0x01 == 0
}

// h264KeyframeStart finds an IDR slice or an SPS at the start of an access
// unit: a single NAL unit (RFC 6184 §5.6), any unit inside a STAP-A
// (§5.7.1), or the first fragment of an FU-A (§5.8).
func h264KeyframeStart(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	isKey := func(t byte) bool { return t == 5 || t == 7 }
	switch t := p[0] & 0x1f; {
	case t >= 1 && t <= 23:
		return isKey(t)
	case t == 24: // STAP-A: 16-bit size then the unit, repeated
		for i := 1; i+2 < len(p); {
			n := int(p[i])<<8 | int(p[i+1])
			i += 2
			if n == 0 || i+n > len(p) {
				return false
			}
			if isKey(p[i] & 0x1f) {
				return true
			}
			i += n
		}
	case t == 28: // FU-A: indicator, header with S bit and type
		return len(p) >= 2 && p[1]&0x80 != 0 && isKey(p[1]&0x1f)
	}
	return false
}
