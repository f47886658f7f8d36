package audio

import (
	"math"
	"testing"
)

func tone(rate int, freq, amp float64, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return x
}

// toneLevel measures the amplitude of frequency freq in x (a single-bin DFT
// over the middle of the signal, away from the padded edges).
func toneLevel(x []float32, rate int, freq float64) float64 {
	lo, hi := len(x)/4, 3*len(x)/4
	var re, im float64
	for i := lo; i < hi; i++ {
		ph := 2 * math.Pi * freq * float64(i) / float64(rate)
		re += float64(x[i]) * math.Cos(ph)
		im += float64(x[i]) * math.Sin(ph)
	}
	return 2 * math.Hypot(re, im) / float64(hi-lo)
}

func resampleAll(t *testing.T, from, to int, in []float32, chunk int) []float32 {
	t.Helper()
	r, err := NewResampler(from, to)
	if err != nil {
		t.Fatal(err)
	}
	var out []float32
	for len(in) > 0 {
		n := min(chunk, len(in))
		out = r.Process(out, in[:n])
		in = in[n:]
	}
	return r.Flush(out)
}

func TestResamplerKeepsPassband(t *testing.T) {
	for _, from := range []int{8000, 11025, 22050, 32000, 44100, 48000, 96000, 44101} {
		n := from // one second
		in := tone(from, 1000, 0.5, n)
		out := resampleAll(t, from, 16000, in, 4096)
		if want := 16000; len(out) != want {
			t.Errorf("%d Hz: %d output samples for 1 s, want %d", from, len(out), want)
		}
		if got := toneLevel(out, 16000, 1000); math.Abs(got-0.5) > 0.005 {
			t.Errorf("%d Hz: 1 kHz tone amplitude %.4f after resampling, want 0.5", from, got)
		}
		// 6.5 kHz is inside the flat passband whenever the input carries
		// it; 7 kHz is at the start of the transition band (within 1 dB).
		if from >= 16000 {
			for _, c := range []struct{ f, tol float64 }{{6500, 0.01}, {7000, 0.06}} {
				in = tone(from, c.f, 0.5, n)
				out = resampleAll(t, from, 16000, in, 1000)
				if got := toneLevel(out, 16000, c.f); math.Abs(got-0.5) > c.tol {
					t.Errorf("%d Hz: %.0f Hz tone amplitude %.4f, want 0.5±%.2f", from, c.f, got, c.tol)
				}
			}
		}
	}
}

func TestResamplerRejectsAliases(t *testing.T) {
	// A 12 kHz tone at 48 kHz would fold to 4 kHz at 16 kHz; a 9 kHz tone
	// to 7 kHz. Both must be at least 70 dB down.
	for _, c := range []struct {
		from        int
		freq, alias float64
	}{{48000, 12000, 4000}, {48000, 9000, 7000}, {44100, 10000, 6000}} {
		in := tone(c.from, c.freq, 0.5, c.from)
		out := resampleAll(t, c.from, 16000, in, 777)
		lvl := toneLevel(out, 16000, c.alias)
		if db := 20 * math.Log10(lvl/0.5+1e-12); db > -70 {
			t.Errorf("%d Hz tone at %d Hz: alias at %.0f Hz is %.1f dB, want < −70 dB", int(c.freq), c.from, c.alias, db)
		}
	}
	// Upsampling 8 kHz to 16 kHz must not create the 16k−f image.
	out := resampleAll(t, 8000, 16000, tone(8000, 3000, 0.5, 8000), 160)
	if lvl := toneLevel(out, 16000, 5000); 20*math.Log10(lvl/0.5+1e-12) > -70 {
		t.Errorf("8→16 kHz: image at 5 kHz is %.1f dB", 20*math.Log10(lvl/0.5))
	}
}

func TestResamplerStreamingMatchesBlock(t *testing.T) {
	in := tone(44100, 440, 0.3, 30000)
	whole := resampleAll(t, 44100, 16000, in, len(in))
	chunked := resampleAll(t, 44100, 16000, in, 37)
	if len(whole) != len(chunked) {
		t.Fatalf("lengths %d vs %d", len(whole), len(chunked))
	}
	for i := range whole {
		if whole[i] != chunked[i] {
			t.Fatalf("sample %d: %g vs %g", i, whole[i], chunked[i])
		}
	}
}

func TestResamplerBadRate(t *testing.T) {
	for _, r := range [][2]int{{0, 16000}, {-1, 16000}, {16000, 0}} {
		if _, err := NewResampler(r[0], r[1]); err == nil {
			t.Errorf("NewResampler(%d, %d) accepted", r[0], r[1])
		}
	}
}

func BenchmarkResample48k(b *testing.B) {
	in := tone(48000, 440, 0.3, 48000)
	r, _ := NewResampler(48000, 16000)
	out := make([]float32, 0, 20000)
	b.SetBytes(int64(len(in) * 4))
	for b.Loop() {
		out = r.Process(out[:0], in)
	}
}
