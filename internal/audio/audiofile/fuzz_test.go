package audiofile

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"testing"
)

// fuzzRead opens data and reads at most limit samples, checking what a
// caller relies on: no panic, errors are the package's sentinels (or the
// format is recognised), samples are finite and within [-1, 1].
func fuzzRead(t *testing.T, data []byte) {
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrUnsupportedFormat) {
			t.Fatalf("open: error %v is not a sentinel", err)
		}
		return
	}
	// Enough output to exercise the decoders past their first blocks; a
	// few kB of FLAC or Opus may legitimately expand far beyond this.
	limit := 1 << 18
	buf := make([]float32, 4096)
	total := 0
	for total < limit {
		n, err := r.Read(buf)
		for _, v := range buf[:n] {
			if math.IsNaN(float64(v)) || v < -1.01 || v > 1.01 {
				t.Fatalf("sample %g out of range", v)
			}
		}
		total += n
		if err == io.EOF {
			return
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read: error %v is not ErrCorrupt", err)
			}
			return
		}
	}
}

func addSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
}

func FuzzWAV(f *testing.F) {
	addSeeds(f, "seed16.wav", "seed8k-stereo-u8.wav", "seed-float-ext.wav")
	f.Add(makeWAV(wavSpec{tag: wavePCM, bits: 24, rate: 44100, channels: 2, extensible: true, extraChunk: true}, make([]float32, 64)))
	f.Add(makeWAV(wavSpec{tag: waveMuLaw, bits: 8, rate: 8000, channels: 1, dataSize: 0xFFFFFFFF}, make([]float32, 64)))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data) })
}

func FuzzFLAC(f *testing.F) {
	addSeeds(f, "seed.flac")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data) })
}

func FuzzOggOpus(f *testing.F) {
	addSeeds(f, "seed.opus")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data) })
}

func FuzzMP3(f *testing.F) {
	addSeeds(f, "seed.mp3")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data) })
}
