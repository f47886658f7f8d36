package audio

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFFTMatchesDFT(t *testing.T) {
	for _, n := range []int{2, 8, 64, 512} {
		f, err := NewFFT(n)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		re, im := make([]float64, n), make([]float64, n)
		for i := range re {
			re[i], im[i] = rng.NormFloat64(), rng.NormFloat64()
		}
		wantRe, wantIm := make([]float64, n), make([]float64, n)
		for k := range n {
			for t := range n {
				a := -2 * math.Pi * float64(k*t) / float64(n)
				wantRe[k] += re[t]*math.Cos(a) - im[t]*math.Sin(a)
				wantIm[k] += re[t]*math.Sin(a) + im[t]*math.Cos(a)
			}
		}
		f.Transform(re, im)
		for k := range n {
			if math.Abs(re[k]-wantRe[k]) > 1e-9*float64(n) || math.Abs(im[k]-wantIm[k]) > 1e-9*float64(n) {
				t.Fatalf("n=%d bin %d: %g%+gi, want %g%+gi", n, k, re[k], im[k], wantRe[k], wantIm[k])
			}
		}
	}
	if _, err := NewFFT(100); err == nil {
		t.Error("NewFFT(100) accepted")
	}
}

func TestPowerSpectrumOfTone(t *testing.T) {
	f, _ := NewFFT(256)
	x := make([]float64, 256)
	for i := range x {
		x[i] = math.Cos(2 * math.Pi * 16 * float64(i) / 256) // bin 16
	}
	p := make([]float64, 129)
	f.PowerSpectrum(x, p)
	// A unit cosine on a bin puts (n/2)² in that bin and nothing elsewhere.
	if math.Abs(p[16]-128*128) > 1e-6 {
		t.Errorf("bin 16 power %g, want %d", p[16], 128*128)
	}
	for k, v := range p {
		if k != 16 && v > 1e-12 {
			t.Errorf("bin %d power %g, want 0", k, v)
		}
	}
}

func BenchmarkFFT512(b *testing.B) {
	f, _ := NewFFT(512)
	x := make([]float64, 512)
	p := make([]float64, 257)
	for b.Loop() {
		f.PowerSpectrum(x, p)
	}
}
