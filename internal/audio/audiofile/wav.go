package audiofile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// WAV format tags (mmreg.h).
const (
	wavePCM        = 0x0001
	waveFloat      = 0x0003
	waveALaw       = 0x0006
	waveMuLaw      = 0x0007
	waveExtensible = 0xFFFE
)

// A WAV writer that streams (ffmpeg to a pipe, many recorders) cannot seek
// back to fill in sizes, so it writes 0xFFFFFFFF (or 0) as the data size.
const wavUnknownSize = 0xFFFFFFFF

// Sanity bounds on header fields: a rate or channel count past these is a
// damaged header, not audio. Real rates run from 4 kHz (old telephony) to
// 768 kHz; a 1 Hz "audio" file would make the resampler produce 16 000
// samples per input sample.
const (
	minSampleRate = 1000
	maxSampleRate = 768_000
	maxChannels   = 1024
)

type wavDecoder struct {
	r         io.Reader
	tag       int // wavePCM, waveFloat, waveALaw, waveMuLaw
	bits      int // container bits per sample
	channels  int
	remaining int64 // data bytes left to read; -1 = up to the end of input
	claimed   int64
	read      int64
	buf       []byte
	info      *Info
	lied      bool
}

func newWAV(r io.Reader, size int64) (decoder, Info, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, Info{}, fmt.Errorf("%w: wav: truncated RIFF header", ErrCorrupt)
	}
	rf64 := string(hdr[:4]) != "RIFF"
	var (
		fmtSeen bool
		w       = &wavDecoder{r: r}
		info    = Info{Format: "wav"}
		pos     = int64(12)
		rate    int
		ds64    int64 = -1
	)
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if !fmtSeen {
				return nil, Info{}, fmt.Errorf("%w: wav: no fmt chunk", ErrCorrupt)
			}
			return nil, Info{}, fmt.Errorf("%w: wav: no data chunk", ErrCorrupt)
		}
		pos += 8
		id := string(ch[:4])
		n := int64(binary.LittleEndian.Uint32(ch[4:]))
		switch id {
		case "ds64":
			if n < 16 || n > 1<<16 {
				return nil, Info{}, fmt.Errorf("%w: wav: bad ds64 chunk size %d", ErrCorrupt, n)
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, Info{}, fmt.Errorf("%w: wav: truncated ds64 chunk", ErrCorrupt)
			}
			ds64 = int64(binary.LittleEndian.Uint64(b[8:16]))
			pos += n
		case "fmt ":
			if n < 16 || n > 1<<16 {
				return nil, Info{}, fmt.Errorf("%w: wav: bad fmt chunk size %d", ErrCorrupt, n)
			}
			b := make([]byte, n+n%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, Info{}, fmt.Errorf("%w: wav: truncated fmt chunk", ErrCorrupt)
			}
			pos += int64(len(b))
			var err error
			rate, err = w.parseFmt(b[:n], &info)
			if err != nil {
				return nil, Info{}, err
			}
			fmtSeen = true
		case "data":
			if !fmtSeen {
				return nil, Info{}, fmt.Errorf("%w: wav: data chunk before fmt chunk", ErrCorrupt)
			}
			w.claimed = n
			if rf64 && n == wavUnknownSize && ds64 >= 0 {
				w.claimed = ds64
			}
			w.remaining = w.claimed
			avail := int64(-1)
			if size >= 0 {
				avail = size - pos
			}
			switch {
			case w.claimed == wavUnknownSize || w.claimed == 0 && avail != 0:
				w.remaining = -1
				info.Notes = append(info.Notes, "data size not set in header (streamed WAV); read to the end of the file")
				if avail > 0 {
					setDuration(&info, avail, w.channels*w.bits/8, rate)
				}
			case avail >= 0 && w.claimed > avail:
				info.Notes = append(info.Notes, fmt.Sprintf("data chunk claims %d bytes but the file holds %d; read to the end of the file", w.claimed, avail))
				w.remaining = avail
				w.lied = true
				setDuration(&info, avail, w.channels*w.bits/8, rate)
			default:
				setDuration(&info, w.claimed, w.channels*w.bits/8, rate)
			}
			if avail == 0 && w.claimed != 0 && w.claimed != wavUnknownSize {
				return nil, Info{}, fmt.Errorf("%w: wav: truncated: data chunk claims %d bytes, file ends at its header", ErrCorrupt, w.claimed)
			}
			if w.remaining == 0 || avail == 0 {
				return nil, Info{}, fmt.Errorf("%w: wav: no samples", ErrEmpty)
			}
			return w, info, nil
		default:
			// Skip LIST, fact, bext, JUNK, … (padded to even sizes). Reading
			// through rather than seeking keeps non-seekable input working;
			// a size past the end of input ends in "no data chunk".
			skip := n + n%2
			if _, err := io.CopyN(io.Discard, r, skip); err != nil {
				return nil, Info{}, fmt.Errorf("%w: wav: no data chunk (chunk %q runs past the end)", ErrCorrupt, id)
			}
			pos += skip
		}
	}
}

func setDuration(info *Info, bytes int64, frameBytes, rate int) {
	if frameBytes > 0 && rate > 0 {
		frames := bytes / int64(frameBytes)
		info.Duration = time.Duration(float64(frames) / float64(rate) * float64(time.Second))
	}
}

// parseFmt reads a WAVEFORMAT(EX|TENSIBLE) chunk body.
func (w *wavDecoder) parseFmt(b []byte, info *Info) (int, error) {
	tag := int(binary.LittleEndian.Uint16(b[0:]))
	channels := int(binary.LittleEndian.Uint16(b[2:]))
	rate := int(binary.LittleEndian.Uint32(b[4:]))
	align := int(binary.LittleEndian.Uint16(b[12:]))
	bits := int(binary.LittleEndian.Uint16(b[14:]))
	if tag == waveExtensible {
		if len(b) < 40 {
			return 0, fmt.Errorf("%w: wav: WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes", ErrCorrupt, len(b))
		}
		// The sub-format GUID's first two bytes are the plain format tag;
		// the valid-bits field may be narrower than the container (20-bit
		// in 24), which changes nothing for a float conversion.
		tag = int(binary.LittleEndian.Uint16(b[24:]))
	}
	if channels < 1 || channels > maxChannels {
		return 0, fmt.Errorf("%w: wav: %d channels", ErrCorrupt, channels)
	}
	if rate < minSampleRate || rate > maxSampleRate {
		return 0, fmt.Errorf("%w: wav: sample rate %d Hz", ErrUnsupportedFormat, rate)
	}
	var enc string
	switch {
	case tag == wavePCM && (bits == 8 || bits == 16 || bits == 24 || bits == 32):
		enc = fmt.Sprintf("pcm%d", bits)
	case tag == waveFloat && (bits == 32 || bits == 64):
		enc = fmt.Sprintf("float%d", bits)
	case (tag == waveALaw || tag == waveMuLaw) && bits == 8:
		enc = map[int]string{waveALaw: "alaw", waveMuLaw: "mulaw"}[tag]
	case tag == wavePCM || tag == waveFloat || tag == waveALaw || tag == waveMuLaw:
		return 0, fmt.Errorf("%w: wav: %d-bit samples with format tag %#04x", ErrUnsupportedFormat, bits, tag)
	default:
		return 0, fmt.Errorf("%w: wav: compressed encoding %s", ErrUnsupportedFormat, wavTagName(tag))
	}
	if align != channels*bits/8 {
		return 0, fmt.Errorf("%w: wav: block align %d for %d channels of %d bits", ErrCorrupt, align, channels, bits)
	}
	w.tag, w.bits, w.channels = tag, bits, channels
	info.Encoding, info.SampleRate, info.Channels = enc, rate, channels
	return rate, nil
}

func wavTagName(tag int) string {
	names := map[int]string{
		0x0002: "MS ADPCM", 0x0011: "IMA ADPCM", 0x0031: "GSM 6.10", 0x0050: "MPEG",
		0x0055: "MP3", 0x00FF: "AAC", 0x0161: "WMA", 0x1610: "AAC", 0x6750: "Vorbis",
		0x704F: "Opus", 0xF1AC: "FLAC",
	}
	if n, ok := names[tag]; ok {
		return fmt.Sprintf("%s (format tag %#04x)", n, tag)
	}
	return fmt.Sprintf("format tag %#04x", tag)
}

func (w *wavDecoder) setInfo(i *Info) { w.info = i }

func (w *wavDecoder) decode(out []float32) ([]float32, error) {
	frameBytes := w.channels * w.bits / 8
	want := int64(readChunkFrames * frameBytes)
	if w.remaining >= 0 && w.remaining < want {
		want = w.remaining
	}
	if want == 0 {
		return out, io.EOF
	}
	if cap(w.buf) < int(want) {
		w.buf = make([]byte, want)
	}
	buf := w.buf[:want]
	n, err := io.ReadFull(w.r, buf)
	w.read += int64(n)
	if w.remaining >= 0 {
		w.remaining -= int64(n)
	}
	whole := n - n%frameBytes
	out = w.convert(out, buf[:whole])
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		if n%frameBytes != 0 {
			w.info.Notes = append(w.info.Notes, fmt.Sprintf("dropped a partial last frame of %d bytes", n%frameBytes))
		}
		if w.remaining > 0 && !w.lied {
			w.info.Notes = append(w.info.Notes, fmt.Sprintf("data chunk claims %d bytes but the input ended after %d; read to the end", w.claimed, w.read))
		}
		return out, io.EOF
	default:
		return out, err
	}
}

func (w *wavDecoder) convert(out []float32, b []byte) []float32 {
	switch {
	case w.tag == wavePCM && w.bits == 8:
		for _, v := range b {
			out = append(out, (float32(v)-128)/128)
		}
	case w.tag == wavePCM && w.bits == 16:
		for i := 0; i+1 < len(b); i += 2 {
			out = append(out, float32(int16(binary.LittleEndian.Uint16(b[i:])))/32768)
		}
	case w.tag == wavePCM && w.bits == 24:
		for i := 0; i+2 < len(b); i += 3 {
			v := int32(uint32(b[i])<<8|uint32(b[i+1])<<16|uint32(b[i+2])<<24) >> 8
			out = append(out, float32(v)/(1<<23))
		}
	case w.tag == wavePCM && w.bits == 32:
		for i := 0; i+3 < len(b); i += 4 {
			out = append(out, float32(float64(int32(binary.LittleEndian.Uint32(b[i:])))/(1<<31)))
		}
	case w.tag == waveFloat && w.bits == 32:
		for i := 0; i+3 < len(b); i += 4 {
			out = append(out, clampSample(float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))))
		}
	case w.tag == waveFloat && w.bits == 64:
		for i := 0; i+7 < len(b); i += 8 {
			out = append(out, clampSample(math.Float64frombits(binary.LittleEndian.Uint64(b[i:]))))
		}
	case w.tag == waveALaw:
		for _, v := range b {
			out = append(out, float32(alaw(v))/32768)
		}
	case w.tag == waveMuLaw:
		for _, v := range b {
			out = append(out, float32(mulaw(v))/32768)
		}
	}
	return out
}

// clampSample maps float input to [-1, 1]; NaN (garbage) becomes silence.
func clampSample(v float64) float32 {
	switch {
	case v != v:
		return 0
	case v > 1:
		return 1
	case v < -1:
		return -1
	}
	return float32(v)
}

// alaw and mulaw expand G.711 bytes to 16-bit linear (ITU-T G.711).
func alaw(v byte) int16 {
	v ^= 0x55
	t := int16(v&0x0F)<<4 + 8
	seg := (v & 0x70) >> 4
	if seg >= 1 {
		t += 0x100
	}
	if seg > 1 {
		t <<= seg - 1
	}
	if v&0x80 != 0 {
		return t
	}
	return -t
}

func mulaw(v byte) int16 {
	v = ^v
	t := (int16(v&0x0F)<<3 + 0x84) << ((v & 0x70) >> 4)
	if v&0x80 != 0 {
		return 0x84 - t
	}
	return t - 0x84
}
