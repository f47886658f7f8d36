package audio

import (
	"errors"
	"fmt"
)

// ErrBadOpusPacket reports an Opus packet whose table-of-contents header is
// malformed (RFC 6716 §3.1-3.2).
var ErrBadOpusPacket = errors.New("audio: malformed opus packet")

// opusFrameSamples48 is the frame duration at 48 kHz of each TOC
// configuration number (RFC 6716 §3.1, Table 2).
var opusFrameSamples48 = [32]int{
	480, 960, 1920, 2880, // SILK NB 10, 20, 40, 60 ms
	480, 960, 1920, 2880, // SILK MB
	480, 960, 1920, 2880, // SILK WB
	480, 960, // Hybrid SWB 10, 20 ms
	480, 960, // Hybrid FB
	120, 240, 480, 960, // CELT NB 2.5, 5, 10, 20 ms
	120, 240, 480, 960, // CELT WB
	120, 240, 480, 960, // CELT SWB
	120, 240, 480, 960, // CELT FB
}

// OpusPacketSamples returns the duration of an Opus packet in 48 kHz
// samples, read from its TOC byte and frame count (at most 120 ms = 5760).
func OpusPacketSamples(p []byte) (int, error) {
	if len(p) < 1 {
		return 0, fmt.Errorf("%w: empty", ErrBadOpusPacket)
	}
	per := opusFrameSamples48[p[0]>>3]
	frames := 1
	switch p[0] & 3 {
	case 1, 2:
		frames = 2
	case 3:
		if len(p) < 2 {
			return 0, fmt.Errorf("%w: code 3 without frame count", ErrBadOpusPacket)
		}
		frames = int(p[1] & 0x3F)
		if frames == 0 {
			return 0, fmt.Errorf("%w: zero frames", ErrBadOpusPacket)
		}
	}
	if n := per * frames; n <= 5760 {
		return n, nil
	}
	return 0, fmt.Errorf("%w: %d frames of %d samples exceed 120 ms", ErrBadOpusPacket, frames, per)
}
