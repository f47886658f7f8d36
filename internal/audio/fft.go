package audio

import (
	"fmt"
	"math"
	"math/bits"
)

// FFT is a radix-2 complex fast Fourier transform of one fixed size, with
// its twiddle factors and bit-reversal table computed once. The speech path
// only needs 256 to 1024 points per 10 ms frame (a 512-point transform
// costs about 5 µs here), so a plain iterative Cooley-Tukey is enough;
// real frames go through RealDFT, half the work. Not gonum's dsp/fourier:
// same spectra (to 1e-14), but 2.1× (512) and 2.0× (1024 points) slower
// per power spectrum (BenchmarkPowerSpectrum, medians, 2026-12-07; 1.28×
// and 1.16× before RealDFT).
// An FFT is not safe for concurrent use (it owns scratch buffers).
type FFT struct {
	n      int
	cos    []float64
	sin    []float64
	rev    []int
	re, im []float64 // scratch for PowerSpectrum
	half   *FFT      // the n/2-point transform behind RealDFT (made on first use)
}

// NewFFT returns an n-point FFT; n must be a power of two ≥ 2.
func NewFFT(n int) (*FFT, error) {
	if n < 2 || n&(n-1) != 0 {
		return nil, fmt.Errorf("audio: FFT size %d is not a power of two", n)
	}
	f := &FFT{n: n, cos: make([]float64, n/2), sin: make([]float64, n/2), rev: make([]int, n),
		re: make([]float64, n), im: make([]float64, n)}
	for i := range n / 2 {
		a := -2 * math.Pi * float64(i) / float64(n)
		f.cos[i], f.sin[i] = math.Cos(a), math.Sin(a)
	}
	shift := 64 - bits.Len(uint(n-1))
	for i := range n {
		f.rev[i] = int(bits.Reverse64(uint64(i)) >> shift)
	}
	return f, nil
}

// Len returns the transform size.
func (f *FFT) Len() int { return f.n }

// Transform computes the forward DFT of (re, im) in place:
// X[k] = Σ x[t]·e^{−2πikt/n}. Both slices must have length n.
func (f *FFT) Transform(re, im []float64) {
	n := f.n
	_ = re[n-1]
	_ = im[n-1]
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

// PowerSpectrum returns |X[k]|² for k = 0..n/2 of the real frame x (zero
// padded or truncated to n), written into out (which must hold n/2+1).
func (f *FFT) PowerSpectrum(x []float64, out []float64) {
	re, im := f.re[:f.n/2+1], f.im[:f.n/2+1]
	f.RealDFT(x, re, im)
	for k, r := range re {
		out[k] = r*r + im[k]*im[k]
	}
}

// RealDFT computes X[k] for k = 0..n/2 of the real sequence x (zero
// padded or truncated to n) into re and im (each of length n/2+1); the
// other half of a real sequence's spectrum is their mirror, X[n−k] =
// conj(X[k]). It costs one n/2-point complex transform: the even samples
// go in as the real parts and the odd ones as the imaginary parts, and
// the two interleaved spectra are separated afterwards, so about half of
// a complex n-point Transform.
func (f *FFT) RealDFT(x []float64, re, im []float64) {
	n, h := f.n, f.n/2
	_ = re[h]
	_ = im[h]
	if n == 2 {
		a, b := at(x, 0), at(x, 1)
		re[0], im[0], re[1], im[1] = a+b, 0, a-b, 0
		return
	}
	if f.half == nil {
		f.half, _ = NewFFT(h)
	}
	zr, zi := f.half.re, f.half.im
	for m := range h {
		zr[m], zi[m] = at(x, 2*m), at(x, 2*m+1)
	}
	f.half.Transform(zr, zi)
	// With Z = FFT(z): E[k] = (Z[k] + conj Z[h−k]) / 2 is the spectrum of
	// the even samples, O[k] = (Z[k] − conj Z[h−k]) / 2i that of the odd
	// ones, and X[k] = E[k] + e^{−2πik/n}·O[k].
	re[0], im[0] = zr[0]+zi[0], 0
	re[h], im[h] = zr[0]-zi[0], 0
	for k := 1; k < h; k++ {
		ar, ai := zr[k], zi[k]
		br, bi := zr[h-k], -zi[h-k]
		er, ei := (ar+br)/2, (ai+bi)/2
		or, oi := (ai-bi)/2, -(ar-br)/2
		wr, wi := f.cos[k], f.sin[k]
		re[k] = er + wr*or - wi*oi
		im[k] = ei + wr*oi + wi*or
	}
}

// at is x[i], or 0 past its end (zero padding).
func at(x []float64, i int) float64 {
	if i < len(x) {
		return x[i]
	}
	return 0
}
