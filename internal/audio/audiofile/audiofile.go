// Package audiofile reads audio files for the speech path: WAV (PCM 8 to 32
// bit, IEEE float, A-law, µ-law, WAVE_FORMAT_EXTENSIBLE, RF64), FLAC,
// Ogg/Opus and MP3, detected by their content, never by their name. Whatever the
// source rate and channel count, a Reader always yields 16 kHz mono float32
// samples in [-1, 1], streamed in bounded memory: a ten-hour upload costs
// the same few hundred kilobytes as a ten-second one.
package audiofile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/parleyhq/parley/internal/audio"
)

// Rate is the output sample rate of every Reader.
const Rate = 16000

// Errors returned by Open, NewReader and Read, wrapped with details.
var (
	// ErrUnsupportedFormat: the content is recognised as something this
	// package does not decode (AIFF, Ogg Vorbis, AAC, text…) or not at all.
	ErrUnsupportedFormat = errors.New("unsupported audio format")
	// ErrCorrupt: the content starts as a supported format but is truncated
	// or malformed.
	ErrCorrupt = errors.New("corrupt audio file")
	// ErrEmpty: the input has no bytes or no audio samples.
	ErrEmpty = errors.New("empty audio file")
)

// Info describes the source of a Reader.
type Info struct {
	Format        string        // "wav", "flac", "ogg-opus" or "mp3"
	Encoding      string        // e.g. "pcm16", "float32", "alaw", "flac16", "opus"
	SampleRate    int           // the source's sample rate in Hz
	Channels      int           // the source's channel count
	Duration      time.Duration // 0 when the container does not say and the input cannot be measured
	Notes         []string      // conversions made and problems worked around
	SamplesOutput int64         // 16 kHz samples returned by Read so far
}

// decoder is one container/codec: it returns interleaved float32 frames at
// the source rate, appended to buf, or io.EOF once the stream is done.
type decoder interface {
	decode(buf []float32) ([]float32, error)
	// setInfo gives the decoder the Reader's Info, where it adds Notes
	// about problems it finds while reading.
	setInfo(*Info)
}

// readChunkFrames bounds one decoder call (source frames), and so memory.
const readChunkFrames = 4096

// Reader streams 16 kHz mono float32 samples from an audio file.
type Reader struct {
	dec      decoder
	info     Info
	closer   io.Closer
	res      *audio.Resampler // nil when the source is already 16 kHz
	channels int

	raw  []float32 // interleaved source frames from the decoder
	mono []float32 // mixed down
	out  []float32 // resampled, not yet returned
	off  int       // read position in out
	eof  bool
	err  error
}

// Open opens the file at path and detects its format from its content.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.closer = f
	return r, nil
}

// ReadAll reads the whole file at path into memory as 16 kHz mono samples.
func ReadAll(path string) ([]float32, Info, error) {
	r, err := Open(path)
	if err != nil {
		return nil, Info{}, err
	}
	defer r.Close()
	var all []float32
	if d := r.info.Duration; d > 0 && d < 24*time.Hour {
		all = make([]float32, 0, int(d.Seconds()*Rate)+Rate)
	}
	buf := make([]float32, 16384)
	for {
		n, err := r.Read(buf)
		all = append(all, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return all, r.Info(), fmt.Errorf("%s: %w", path, err)
		}
	}
	if len(all) == 0 {
		return nil, r.Info(), fmt.Errorf("%s: %w: no samples", path, ErrEmpty)
	}
	return all, r.Info(), nil
}

// NewReader detects the format of r from its first bytes and returns a
// Reader over it. When r is also an io.Seeker its size is used to check
// container length claims up front and to find the duration of Ogg streams.
func NewReader(r io.Reader) (*Reader, error) {
	var size int64 = -1
	if s, ok := r.(io.Seeker); ok {
		if cur, err := s.Seek(0, io.SeekCurrent); err == nil {
			if end, err := s.Seek(0, io.SeekEnd); err == nil {
				size = end - cur
			}
			if _, err := s.Seek(cur, io.SeekStart); err != nil {
				return nil, err
			}
		}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(64)
	if len(head) == 0 {
		if err == nil || err == io.EOF {
			return nil, ErrEmpty
		}
		return nil, err
	}
	var (
		dec  decoder
		info Info
	)
	switch kind := sniff(head); kind {
	case "wav":
		dec, info, err = newWAV(br, size)
	case "flac":
		dec, info, err = newFLAC(br)
	case "MP3 (ID3 tag)", "MP3 (MPEG audio frame)":
		dec, info, err = newMP3(br)
	case "ogg":
		var seeker io.ReadSeeker
		if rs, ok := r.(io.ReadSeeker); ok && size > 0 {
			seeker = rs
		}
		dec, info, err = newOggOpus(br, seeker, size)
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedFormat, kind)
	}
	if err != nil {
		return nil, err
	}
	rd := &Reader{dec: dec, info: info, channels: info.Channels}
	dec.setInfo(&rd.info)
	if info.Channels > 1 && info.Format != "ogg-opus" {
		rd.note("mixed down from %d channels", info.Channels)
	}
	srcRate := info.SampleRate
	if info.Format == "ogg-opus" {
		srcRate = Rate // the Opus decoder outputs 16 kHz mono directly
		rd.channels = 1
	}
	if srcRate != Rate {
		rd.res, err = audio.NewResampler(srcRate, Rate)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnsupportedFormat, err)
		}
		rd.note("resampled from %d Hz", srcRate)
	}
	return rd, nil
}

func (r *Reader) note(format string, args ...any) {
	r.info.Notes = append(r.info.Notes, fmt.Sprintf(format, args...))
}

// Info describes the source; Notes may grow while reading (a header that
// turned out to lie is only known at the end).
func (r *Reader) Info() Info {
	i := r.info
	i.Notes = append([]string(nil), r.info.Notes...)
	return i
}

// Read fills p with 16 kHz mono samples. It returns io.EOF after the last
// sample, and a wrapped ErrCorrupt if the stream breaks off or is malformed
// (the samples before the damage have been returned).
func (r *Reader) Read(p []float32) (int, error) {
	n := 0
	for n < len(p) {
		if r.off < len(r.out) {
			c := copy(p[n:], r.out[r.off:])
			r.off += c
			n += c
			continue
		}
		if r.eof {
			break
		}
		r.fill()
	}
	r.info.SamplesOutput += int64(n)
	if n == 0 && r.eof {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	return n, nil
}

// fill decodes one chunk of source frames into r.out.
func (r *Reader) fill() {
	r.out, r.off = r.out[:0], 0
	raw, err := r.dec.decode(r.raw[:0])
	r.raw = raw
	ch := r.channels
	mono := raw
	if ch > 1 {
		frames := len(raw) / ch
		r.mono = growFloats(r.mono, frames)
		inv := 1 / float32(ch)
		for i := range frames {
			var s float32
			for _, v := range raw[i*ch : (i+1)*ch] {
				s += v
			}
			r.mono[i] = s * inv
		}
		mono = r.mono
	}
	if r.res != nil {
		r.out = r.res.Process(r.out, mono)
	} else {
		r.out = append(r.out, mono...)
	}
	if err != nil {
		if r.res != nil {
			r.out = r.res.Flush(r.out)
		}
		r.eof = true
		if err != io.EOF {
			r.err = err
		}
	}
	if r.res != nil {
		// A band-limited filter overshoots on full-scale steps (Gibbs);
		// the promise is [-1, 1].
		for i, v := range r.out {
			r.out[i] = max(-1, min(1, v))
		}
	}
}

// Close closes the underlying file when the Reader was made by Open.
func (r *Reader) Close() error {
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		return c.Close()
	}
	return nil
}

func growFloats(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// sniff names the format of a file from its first bytes: "wav", "flac" and
// "ogg" are decoded; anything else is a description for the error message.
func sniff(h []byte) string {
	has := func(off int, s string) bool {
		return len(h) >= off+len(s) && string(h[off:off+len(s)]) == s
	}
	switch {
	case (has(0, "RIFF") || has(0, "RF64") || has(0, "BW64")) && has(8, "WAVE"):
		return "wav"
	case has(0, "RIFF") && has(8, "AVI "):
		return "AVI video"
	case has(0, "RIFX"):
		return "big-endian RIFX WAV"
	case has(0, "fLaC"):
		return "flac"
	case has(0, "OggS"):
		return "ogg"
	case has(0, "FORM") && (has(8, "AIFF") || has(8, "AIFC")):
		return "AIFF"
	case has(0, "ID3"):
		return "MP3 (ID3 tag)"
	case len(h) >= 2 && h[0] == 0xFF && h[1]&0xE0 == 0xE0 && h[1]&0x06 != 0:
		return "MP3 (MPEG audio frame)"
	case len(h) >= 2 && h[0] == 0xFF && h[1]&0xF6 == 0xF0:
		return "AAC (ADTS)"
	case has(4, "ftyp"):
		return "MP4/M4A"
	case has(0, "\x1a\x45\xdf\xa3"):
		return "Matroska/WebM"
	case has(0, ".snd"):
		return "Sun/NeXT AU"
	case has(0, "#!AMR"):
		return "AMR"
	case has(0, "caff"):
		return "Apple CAF"
	case has(0, "wvpk"):
		return "WavPack"
	case has(0, "MAC "):
		return "Monkey's Audio"
	case has(0, "%PDF"):
		return "PDF document"
	case has(0, "PK\x03\x04"):
		return "ZIP archive"
	case isText(h):
		return "text, not audio"
	}
	return fmt.Sprintf("unrecognised content (starts % x)", h[:min(8, len(h))])
}

func isText(h []byte) bool {
	if len(h) == 0 {
		return false
	}
	h = bytes.TrimPrefix(h, []byte("\xef\xbb\xbf"))
	for _, c := range h {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}
