package meetsynth

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// WriteWAV writes samples as a 16-bit PCM mono WAV file at SampleRate.
func WriteWAV(path string, samples []float32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	n := uint32(len(samples) * 2)
	hdr := make([]byte, 44)
	copy(hdr[0:], "RIFF")
	binary.LittleEndian.PutUint32(hdr[4:], 36+n)
	copy(hdr[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(hdr[16:], 16)
	binary.LittleEndian.PutUint16(hdr[20:], 1) // PCM
	binary.LittleEndian.PutUint16(hdr[22:], 1) // mono
	binary.LittleEndian.PutUint32(hdr[24:], SampleRate)
	binary.LittleEndian.PutUint32(hdr[28:], SampleRate*2)
	binary.LittleEndian.PutUint16(hdr[32:], 2)
	binary.LittleEndian.PutUint16(hdr[34:], 16)
	copy(hdr[36:], "data")
	binary.LittleEndian.PutUint32(hdr[40:], n)
	w.Write(hdr)
	var b [2]byte
	for _, v := range samples {
		s := int16(math.Round(float64(max(-1, min(1, v))) * 32767))
		binary.LittleEndian.PutUint16(b[:], uint16(s))
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Save writes the meeting in the dev set's layout under dir:
// audio/<id>.wav, rttm/<id>.rttm and uem/<id>.uem.
func (m *Meeting) Save(dir string) error {
	for _, sub := range []string{"audio", "rttm", "uem"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	if err := WriteWAV(filepath.Join(dir, "audio", m.ID+".wav"), m.Mix); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "rttm", m.ID+".rttm"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, s := range m.Ref {
		fmt.Fprintf(w, "SPEAKER %s 1 %.3f %.3f <NA> <NA> %s <NA> <NA>\n", m.ID, s.Start, s.End-s.Start, s.Speaker)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "uem", m.ID+".uem"),
		fmt.Appendf(nil, "%s 1 0.000 %.3f\n", m.ID, m.Duration), 0o644)
}
