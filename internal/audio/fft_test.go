package audio

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/gonum/dsp/fourier"
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

// transformRef is the textbook iterative radix-2 loop Transform was
// before its loops were rearranged: the same butterflies, in the same
// arithmetic.
func transformRef(f *FFT, re, im []float64) {
	n := f.n
	for i, j := range f.rev {
		if i < j {
			re[i], re[j] = re[j], re[i]
			im[i], im[j] = im[j], im[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half := size / 2
		step := n / size
		for start := 0; start < n; start += size {
			for k := range half {
				wr, wi := f.cos[k*step], f.sin[k*step]
				a, b := start+k, start+k+half
				tr := wr*re[b] - wi*im[b]
				ti := wr*im[b] + wi*re[b]
				re[b], im[b] = re[a]-tr, im[a]-ti
				re[a] += tr
				im[a] += ti
			}
		}
	}
}

// TestTransformMatchesTheTextbookLoop: the rearranged loops compute the
// same butterflies as the textbook loop, so the spectra are the same to
// the bit (what the VAD, the MFCC and the diarizer compute does not
// move).
func TestTransformMatchesTheTextbookLoop(t *testing.T) {
	for _, n := range []int{2, 4, 8, 16, 32, 64, 256, 512, 1024} {
		f, _ := NewFFT(n)
		rng := rand.New(rand.NewPCG(3, uint64(n)))
		for range 20 {
			re, im := make([]float64, n), make([]float64, n)
			for i := range re {
				re[i], im[i] = rng.NormFloat64(), rng.NormFloat64()
			}
			wr, wi := slices.Clone(re), slices.Clone(im)
			transformRef(f, wr, wi)
			f.Transform(re, im)
			for k := range n {
				if math.Float64bits(re[k]) != math.Float64bits(wr[k]) || math.Float64bits(im[k]) != math.Float64bits(wi[k]) {
					t.Fatalf("n=%d bin %d: %v%+vi, the textbook loop %v%+vi", n, k, re[k], im[k], wr[k], wi[k])
				}
			}
		}
	}
}

// BenchmarkTransform sets Transform against the textbook loop at 512
// points, alternating call by call; each reports its median.
func BenchmarkTransform(b *testing.B) {
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2])
	}
	const n = 512
	f, _ := NewFFT(n)
	rng := rand.New(rand.NewPCG(1, 2))
	re, im := make([]float64, n), make([]float64, n)
	for i := range re {
		re[i], im[i] = rng.NormFloat64(), rng.NormFloat64()
	}
	var ours, ref []time.Duration
	for b.Loop() {
		t0 := time.Now()
		f.Transform(re, im)
		t1 := time.Now()
		transformRef(f, re, im)
		t2 := time.Now()
		ours, ref = append(ours, t1.Sub(t0)), append(ref, t2.Sub(t1))
		for i := range re { // keep the values in range
			re[i], im[i] = re[i]/n, im[i]/n
		}
	}
	b.ReportMetric(median(ours), "ns/transform")
	b.ReportMetric(median(ref), "ns/textbook")
}

func BenchmarkFFT512(b *testing.B) {
	f, _ := NewFFT(512)
	x := make([]float64, 512)
	p := make([]float64, 257)
	for b.Loop() {
		f.PowerSpectrum(x, p)
	}
}

// BenchmarkPowerSpectrum sets ours against gonum's real FFT at the sizes
// the MFCC (512) and the VAD (1024) use, on the same random frame. The two
// alternate call by call and each reports its median time, so a busy
// machine (preemptions, other processes) slows both alike.
func BenchmarkPowerSpectrum(b *testing.B) {
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2])
	}
	for _, n := range []int{512, 1024} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := make([]float64, n)
			for i := range x {
				x[i] = rng.NormFloat64()
			}
			p := make([]float64, n/2+1)
			f, _ := NewFFT(n)
			g := fourier.NewFFT(n)
			c := make([]complex128, n/2+1)
			var ours, theirs []time.Duration
			for b.Loop() {
				t0 := time.Now()
				f.PowerSpectrum(x, p)
				t1 := time.Now()
				g.Coefficients(c, x)
				for k, v := range c {
					p[k] = real(v)*real(v) + imag(v)*imag(v)
				}
				t2 := time.Now()
				ours, theirs = append(ours, t1.Sub(t0)), append(theirs, t2.Sub(t1))
			}
			o, t := median(ours), median(theirs)
			b.ReportMetric(o, "ours-ns/op")
			b.ReportMetric(t, "gonum-ns/op")
			b.ReportMetric(t/o, "gonum/ours")
		})
	}
}

// RealDFT gives the first half of the complex transform of a real
// sequence, also when x is shorter than n (zero padding).
func TestRealDFTMatchesTransform(t *testing.T) {
	for _, n := range []int{2, 4, 8, 64, 1024} {
		for _, length := range []int{n, n - 1, n / 2} {
			f, _ := NewFFT(n)
			rng := rand.New(rand.NewPCG(3, uint64(n+length)))
			x := make([]float64, length)
			re, im := make([]float64, n), make([]float64, n)
			for i := range x {
				x[i] = rng.NormFloat64()
				re[i] = x[i]
			}
			f.Transform(re, im)
			gr, gi := make([]float64, n/2+1), make([]float64, n/2+1)
			f.RealDFT(x, gr, gi)
			for k := range n/2 + 1 {
				if math.Abs(gr[k]-re[k]) > 1e-9*float64(n) || math.Abs(gi[k]-im[k]) > 1e-9*float64(n) {
					t.Fatalf("n=%d, %d samples, bin %d: %g%+gi, want %g%+gi", n, length, k, gr[k], gi[k], re[k], im[k])
				}
			}
		}
	}
}
