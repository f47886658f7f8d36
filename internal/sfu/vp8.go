package sfu

// VP8 picture numbering across layer switches.
//
// Each simulcast layer is its own VP8 stream, numbered on its own: its
// picture ids (15 bits) and TL0PICIDX (8 bits, RFC 7741 §4.2) start
// anywhere. A subscriber moved from one layer to another would see them
// jump, and a receiver takes the numbers for the history of one stream:
// Chrome's reference finder and frame buffer then hold or drop the
// frames after the switch as references they never got, until another
// keyframe (seconds, when its wait for a decodable frame ends). So a
// down-track renumbers, as it does sequence numbers and timestamps: the
// first picture of a run follows the last one sent.

// vp8Numbers locates the 15-bit picture id and the TL0PICIDX in a VP8
// payload descriptor: picAt is the offset of the picture id's first
// byte (-1: absent or 7 bits, left alone), tl0At of TL0PICIDX (-1:
// absent).
func vp8Numbers(p []byte) (picAt, tl0At int) {
	picAt, tl0At = -1, -1
	if len(p) < 2 || p[0]&0x80 == 0 { // no extension byte
		return
	}
	x, i := p[1], 2
	if x&0x80 != 0 { // I
		if len(p) <= i {
			return -1, -1
		}
		if p[i]&0x80 != 0 { // M: 15 bits
			if len(p) < i+2 {
				return -1, -1
			}
			picAt = i
			i += 2
		} else {
			i++
		}
	}
	if x&0x40 != 0 && len(p) > i { // L
		tl0At = i
	}
	return
}

// vp8Renumber is one down-track's picture numbering.
type vp8Renumber struct {
	started        bool
	picOff         uint16 // added mod 2^15
	tl0Off         uint8
	lastPic        uint16
	lastTl0        uint8
	hasPic, hasTl0 bool
}

func pictureID(p []byte, at int) uint16 { return (uint16(p[at])<<8 | uint16(p[at+1])) & 0x7fff }

// rebase makes the keyframe payload p, first of a run, follow the last
// picture sent. Called with the down-track's lock held.
func (v *vp8Renumber) rebase(p []byte) {
	picAt, tl0At := vp8Numbers(p)
	if !v.started {
		v.started = true
		return
	}
	if picAt >= 0 && v.hasPic {
		v.picOff = (v.lastPic + 1 - pictureID(p, picAt)) & 0x7fff
	}
	if tl0At >= 0 && v.hasTl0 {
		v.tl0Off = v.lastTl0 + 1 - p[tl0At]
	}
}

// next records the numbers p is sent with (its own moved by the run's
// offsets; picOff is v.picOff unless temporal.go chose the one from
// before a dropped picture) and returns the offsets, which are non-zero
// when the payload must be rewritten (vp8Shift). Called with the
// down-track's lock held.
func (v *vp8Renumber) next(p []byte, picOff uint16) (uint16, uint8) {
	picAt, tl0At := vp8Numbers(p)
	if picAt >= 0 {
		pic := (pictureID(p, picAt) + picOff) & 0x7fff
		if !v.hasPic || int16((pic-v.lastPic)<<1) > 0 { // newer, mod 2^15
			v.lastPic, v.hasPic = pic, true
		}
	}
	if tl0At >= 0 {
		tl0 := p[tl0At] + v.tl0Off
		if !v.hasTl0 || int8(tl0-v.lastTl0) > 0 {
			v.lastTl0, v.hasTl0 = tl0, true
		}
	}
	return picOff, v.tl0Off
}

// vp8Shift copies payload into buf with its picture id and TL0PICIDX
// moved by a run's offsets: as forwarded, and as retransmitted (sent
// again as first sent).
func vp8Shift(buf, payload []byte, picOff uint16, tl0Off uint8) []byte {
	buf = append(buf[:0], payload...)
	picAt, tl0At := vp8Numbers(buf)
	if picAt >= 0 {
		pic := (pictureID(buf, picAt) + picOff) & 0x7fff
		buf[picAt], buf[picAt+1] = 0x80|byte(pic>>8), byte(pic)
	}
	if tl0At >= 0 {
		buf[tl0At] += tl0Off
	}
	return buf
}

// vp8Temporal reads a VP8 payload descriptor's temporal layer index
// (TID) and layer-sync bit (Y), RFC 7741 §4.2; ok is false when the
// payload carries none (no T bit: one temporal layer).
func vp8Temporal(p []byte) (tid uint8, sync, ok bool) {
	if len(p) < 2 || p[0]&0x80 == 0 {
		return 0, false, false
	}
	x, i := p[1], 2
	if x&0x20 == 0 { // T
		return 0, false, false
	}
	if x&0x80 != 0 { // I
		if len(p) <= i {
			return 0, false, false
		}
		if p[i]&0x80 != 0 {
			i++
		}
		i++
	}
	if x&0x40 != 0 { // L
		i++
	}
	if len(p) <= i {
		return 0, false, false
	}
	return p[i] >> 6, p[i]&0x20 != 0, true
}

// vp8Picture returns a VP8 payload's 15-bit picture id, -1 when it has
// none (absent or 7 bits).
func vp8Picture(p []byte) int32 {
	if picAt, _ := vp8Numbers(p); picAt >= 0 {
		return int32(pictureID(p, picAt))
	}
	return -1
}

// vp8PictureStart tells whether a VP8 payload begins a picture: the S
// bit set on partition 0.
func vp8PictureStart(p []byte) bool { return len(p) > 0 && p[0]&0x10 != 0 && p[0]&0x07 == 0 }
