package vad

import (
	"math"

	"github.com/parleyhq/parley/internal/audio"
)

// Framing: 10 ms hop at 16 kHz; each frame's features come from windows
// centred on the hop.
const (
	sampleRate = 16000
	hop        = 160
	win        = 1024 // harmonicity window (64 ms)
	ewin       = 512  // energy window (32 ms)
	// FrameDuration is the VAD's time resolution in seconds.
	FrameDuration = float64(hop) / sampleRate
)

// Pitch lag search range: 2 to 12.5 ms, voices from 80 to 500 Hz.
const (
	minLag = sampleRate / 500
	maxLag = sampleRate / 80
)

// frame holds the per-frame measurements the decision uses.
type frame struct {
	energy float64 // dBFS of the window (a full-scale sine is −3 dBFS)
	cpp    float64 // harmonicity in [0, 1] (voicing strength)
}

// analyzer cuts a sample stream into frames and measures them.
type analyzer struct {
	fft     *audio.FFT
	window  []float64
	buf     []float32 // samples not yet consumed; buf[0] is at absolute index pos
	pos     int64
	next    int64 // index of the next frame to produce
	x       []float64
	pow     []float64
	flat    []float64 // the flattened spectrum, mirrored (a real, even sequence)
	ac, aci []float64 // its transform: the autocorrelation (real) and ≈0
}

func newAnalyzer() *analyzer {
	f, _ := audio.NewFFT(win)
	a := &analyzer{fft: f, window: make([]float64, win), x: make([]float64, win),
		pow: make([]float64, win/2+1), flat: make([]float64, win), ac: make([]float64, win/2+1), aci: make([]float64, win/2+1)}
	for i := range a.window {
		a.window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*(float64(i)+0.5)/win)
	}
	return a
}

// write appends samples and returns the frames completed by them. Frame k
// covers the hop [k·hop, (k+1)·hop) and its window is centred there, so it
// needs samples up to k·hop + hop/2 + win/2.
func (a *analyzer) write(samples []float32, out []frame) []frame {
	a.buf = append(a.buf, samples...)
	end := a.pos + int64(len(a.buf))
	for {
		centre := a.next*hop + hop/2
		lo, hi := centre-win/2, centre+win/2
		if hi > end {
			break
		}
		for i := range win {
			j := lo + int64(i) - a.pos
			v := 0.0
			if j >= 0 {
				v = float64(a.buf[j])
			}
			a.x[i] = v
		}
		out = append(out, a.measure())
		a.next++
	}
	// Keep what the next window needs.
	keep := a.next*hop + hop/2 - win/2
	if d := keep - a.pos; d > 0 {
		d = min(d, int64(len(a.buf)))
		n := copy(a.buf, a.buf[d:])
		a.buf = a.buf[:n]
		a.pos += d
	}
	return out
}

// flush pads the stream end with zeros so the last partial hop gets a frame.
func (a *analyzer) flush(out []frame) []frame {
	end := a.pos + int64(len(a.buf))
	frames := (end + hop - 1) / hop
	pad := make([]float32, win)
	for a.next < frames {
		before := len(out)
		out = a.write(pad, out)
		if len(out) > before && a.next > frames {
			out = out[:len(out)-int(a.next-frames)]
			a.next = frames
		}
	}
	return out
}

// measure computes the energy and harmonicity of a.x.
//
// Harmonicity is the normalised autocorrelation at the pitch lag of the
// spectrally flattened frame: the power spectrum between 50 Hz and 4 kHz is
// divided by its own ±250 Hz moving average, so what remains is the ripple
// of the harmonics (voiced speech) or chi-square scatter (noise, whatever
// its colour: pink and white noise score alike). Its inverse transform is
// the autocorrelation of that ripple; the peak over lags 2 to 12.5 ms is
// high (0.3 to 0.9) when harmonics are evenly spaced, low (≈0.1) for noise.
// A 64 ms window resolves the harmonics of an 80 Hz voice (Hann main lobe
// 62 Hz wide); energy uses only the central 32 ms for time resolution.
func (a *analyzer) measure() frame {
	var ss float64
	for i := win/2 - ewin/2; i < win/2+ewin/2; i++ {
		ss += a.x[i] * a.x[i]
	}
	f := frame{energy: 10 * math.Log10(ss/ewin+1e-12)}
	if ss < 1e-9 { // below −87 dBFS: nothing to find a pitch in
		return f
	}
	for i, v := range a.x {
		a.x[i] = v * a.window[i]
	}
	a.fft.PowerSpectrum(a.x, a.pow)
	lo, hi := 50*win/sampleRate, 4000*win/sampleRate
	const halfW = 250 * win / sampleRate
	// Moving average by a running sum over [k-halfW, k+halfW].
	var run float64
	for k := lo - halfW; k <= lo+halfW; k++ {
		run += a.pow[max(0, k)]
	}
	clear(a.flat)
	for k := lo; k <= hi; k++ {
		env := run / (2*halfW + 1)
		if env > 0 {
			a.flat[k] = a.pow[k] / env
			a.flat[win-k] = a.flat[k]
		}
		run += a.pow[min(win/2, k+halfW+1)] - a.pow[max(0, k-halfW)]
	}
	a.fft.RealDFT(a.flat, a.ac, a.aci)
	r0 := a.ac[0]
	if r0 <= 0 {
		return f
	}
	best := 0.0
	for q := minLag; q <= maxLag; q++ {
		best = max(best, a.ac[q]/r0)
	}
	f.cpp = best
	return f
}
