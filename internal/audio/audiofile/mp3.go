package audiofile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hajimehoshi/go-mp3"
)

// mp3Decoder reads MPEG-1/2 Layer III (pure Go, go-mp3), ID3v2 tags
// skipped; go-mp3 always yields 16-bit stereo at the source rate.
type mp3Decoder struct {
	d   *mp3.Decoder
	buf []byte
}

func newMP3(r io.Reader) (dec decoder, info Info, err error) {
	defer recoverCorrupt("mp3", &err)
	d, err := mp3.NewDecoder(r)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, Info{}, fmt.Errorf("%w: mp3: no complete frame", ErrCorrupt)
		}
		return nil, Info{}, fmt.Errorf("%w: mp3: %v", ErrCorrupt, err)
	}
	if rate := d.SampleRate(); rate < minSampleRate || rate > maxSampleRate {
		return nil, Info{}, fmt.Errorf("%w: mp3: sample rate %d Hz", ErrCorrupt, rate)
	}
	info = Info{Format: "mp3", Encoding: "mp3", SampleRate: d.SampleRate(), Channels: 2}
	return &mp3Decoder{d: d, buf: make([]byte, readChunkFrames*4)}, info, nil
}

func (m *mp3Decoder) setInfo(*Info) {}

func (m *mp3Decoder) decode(out []float32) (_ []float32, err error) {
	defer recoverCorrupt("mp3", &err)
	n, err := io.ReadFull(m.d, m.buf)
	n -= n % 4 // whole stereo frames
	for i := 0; i < n; i += 2 {
		out = append(out, float32(int16(binary.LittleEndian.Uint16(m.buf[i:])))/32768)
	}
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return out, io.EOF
	default:
		return out, fmt.Errorf("%w: mp3: %v", ErrCorrupt, err)
	}
}
