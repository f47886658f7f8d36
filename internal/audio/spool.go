package audio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// SpoolRate is the sample rate of a spool: the pipeline's 16 kHz mono.
const SpoolRate = 16000

// maxSpoolGap bounds the silence a spool writes for one gap (a track
// muted for hours must not fill the disk): longer gaps are cut to it, so
// spool time drifts from meeting time only across such gaps, which the
// caller's segments do not span (the transcript restarts there too).
const maxSpoolGap = 10 * 60 * SpoolRate

// Spool keeps one track's decoded audio on disk as 16-bit PCM on its own
// timeline, for work done after the meeting (diarization of a shared
// microphone). Memory is a write buffer; the audio is on disk.
type Spool struct {
	f       *os.File
	w       *bufio.Writer
	origin  float64 // meeting time of sample 0
	started bool
	n       int64 // samples written
	shift   float64
	buf     []byte
}

// CreateSpool creates the spool file at path.
func CreateSpool(path string) (*Spool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	return &Spool{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// Write appends audio that starts at meeting time start, filling a gap
// since the previous audio with silence (at most maxSpoolGap).
func (s *Spool) Write(start float64, pcm []float32) error {
	if !s.started {
		s.origin, s.started = start, true
	}
	at := int64(math.Round((start - s.origin - s.shift) * SpoolRate))
	if gap := at - s.n; gap > 0 {
		if gap > maxSpoolGap {
			s.shift += float64(gap-maxSpoolGap) / SpoolRate
			gap = maxSpoolGap
		}
		if err := s.zeros(gap); err != nil {
			return err
		}
	}
	if cap(s.buf) < 2*len(pcm) {
		s.buf = make([]byte, 2*len(pcm))
	}
	b := s.buf[:2*len(pcm)]
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(int16(max(-1, min(1, v))*32767)))
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	s.n += int64(len(pcm))
	return nil
}

func (s *Spool) zeros(n int64) error {
	var z [4096]byte
	for n > 0 {
		k := min(n, int64(len(z)/2))
		if _, err := s.w.Write(z[:2*k]); err != nil {
			return err
		}
		n -= k
		s.n += k
	}
	return nil
}

// Origin returns the meeting time of the spool's first sample.
func (s *Spool) Origin() float64 { return s.origin }

// Duration returns the seconds of audio spooled.
func (s *Spool) Duration() float64 { return float64(s.n) / SpoolRate }

// Empty reports whether nothing was written.
func (s *Spool) Empty() bool { return s.n == 0 }

// Reader flushes the spool and returns a reader of its samples from the
// start (16 kHz mono float32, io.EOF at the end). Write must not be
// called after Reader.
func (s *Spool) Reader() (*SpoolReader, error) {
	if err := s.w.Flush(); err != nil {
		return nil, err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return &SpoolReader{r: bufio.NewReaderSize(s.f, 64<<10)}, nil
}

// Path is the spool file's name.
func (s *Spool) Path() string { return s.f.Name() }

// Close writes what is buffered, syncs the file to disk and closes it,
// keeping it for work that reads it later (ReadSpool), possibly in
// another process after a restart.
func (s *Spool) Close() error {
	return errors.Join(s.w.Flush(), s.f.Sync(), s.f.Close())
}

// ReadSpool opens a closed spool file for reading; the caller closes the
// file.
func ReadSpool(path string) (*SpoolReader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return &SpoolReader{r: bufio.NewReaderSize(f, 64<<10)}, f, nil
}

// Remove closes and deletes the spool file.
func (s *Spool) Remove() error {
	name := s.f.Name()
	return errors.Join(s.f.Close(), os.Remove(name))
}

// SpoolReader reads a spool's samples.
type SpoolReader struct {
	r   *bufio.Reader
	raw []byte
}

// Read fills p with samples; io.EOF at the end.
func (r *SpoolReader) Read(p []float32) (int, error) {
	if cap(r.raw) < 2*len(p) {
		r.raw = make([]byte, 2*len(p))
	}
	n, err := io.ReadFull(r.r, r.raw[:2*len(p)])
	n /= 2
	for i := 0; i < n; i++ {
		p[i] = float32(int16(binary.LittleEndian.Uint16(r.raw[2*i:]))) / 32768
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
		if n == 0 {
			err = io.EOF
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("spool: %w", err)
	}
	return n, err
}
