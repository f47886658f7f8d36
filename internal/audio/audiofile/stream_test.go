package audiofile

import (
	"encoding/binary"
	"io"
	"math"
	"runtime"
	"testing"
)

// endlessWAV is a WAV stream written the way a streaming recorder writes
// one (data size 0xFFFFFFFF) whose samples are generated as they are read,
// so hours of input cost no memory in the test itself.
type endlessWAV struct {
	hdr    []byte
	period []byte // one second of interleaved 16-bit frames, repeated
	left   int64  // data bytes still to produce
	off    int
}

func newEndlessWAV(rate, channels int, seconds int64) *endlessWAV {
	s := wavSpec{tag: wavePCM, bits: 16, rate: rate, channels: channels, dataSize: 0xFFFFFFFF}
	hdr := makeWAV(s, nil)
	period := make([]byte, 0, rate*channels*2)
	for i := range rate {
		v := int16(8000 * math.Sin(2*math.Pi*300*float64(i)/float64(rate)))
		for range channels {
			period = binary.LittleEndian.AppendUint16(period, uint16(v))
		}
	}
	return &endlessWAV{hdr: hdr, period: period, left: seconds * int64(len(period))}
}

func (e *endlessWAV) Read(p []byte) (int, error) {
	if len(e.hdr) > 0 {
		n := copy(p, e.hdr)
		e.hdr = e.hdr[n:]
		return n, nil
	}
	if e.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && e.left > 0 {
		c := copy(p[n:min(len(p), n+int(min(e.left, int64(len(p)))))], e.period[e.off:])
		e.off = (e.off + c) % len(e.period)
		e.left -= int64(c)
		n += c
	}
	return n, nil
}

// streamAndMeasure reads the whole stream and returns the samples read and
// the largest live heap seen (sampled every few hundred reads).
func streamAndMeasure(t *testing.T, src io.Reader) (int64, uint64) {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	r, err := NewReader(src)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, 16000)
	var total int64
	var peak uint64
	for i := 0; ; i++ {
		n, err := r.Read(buf)
		total += int64(n)
		if i%500 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc-min(base, ms.HeapAlloc))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return total, peak
}

func TestLongStreamBoundedMemory(t *testing.T) {
	// Ten hours of 16 kHz mono (1.15 GB of PCM) claimed by nothing but the
	// stream itself, then 10 minutes of 48 kHz stereo through the mixdown
	// and resampler. The heap must stay at the few hundred kB of buffers
	// whatever the length; 8 MB leaves room for the GC's own slack.
	hours := int64(10)
	if testing.Short() {
		hours = 1
	}
	n, peak := streamAndMeasure(t, newEndlessWAV(16000, 1, hours*3600))
	if want := hours * 3600 * 16000; n != want {
		t.Errorf("%d samples, want %d", n, want)
	}
	if peak > 8<<20 {
		t.Errorf("heap grew by %d bytes streaming %d hours", peak, hours)
	}
	n, peak = streamAndMeasure(t, newEndlessWAV(48000, 2, 10*60))
	if want := int64(10 * 60 * 16000); n != want {
		t.Errorf("48 kHz stereo: %d samples, want %d", n, want)
	}
	if peak > 8<<20 {
		t.Errorf("48 kHz stereo: heap grew by %d bytes", peak)
	}
}
