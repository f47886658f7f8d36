package diarize

import (
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Front-end constants. 25 ms Hamming windows every 10 ms are the usual
// speaker-recognition framing; 100 frames/s is also the resolution of the
// output turn boundaries.
const (
	frameLen  = 400 // 25 ms
	frameHop  = 160 // 10 ms
	fftSize   = 512
	numMel    = 24
	numCeps   = 19 // c1..c19; c0 (level) says more about distance to the mic than about the voice
	melLowHz  = 60
	melHighHz = 7600
	preEmph   = 0.97
)

// frontEnd turns a 16 kHz stream into frames of log energy, voicing and
// MFCCs. Frame f covers samples [160 f, 160 f + 400).
type frontEnd struct {
	fft    *fourier.FFT
	window [frameLen]float64
	fbank  [numMel]melFilter
	dct    [numCeps][numMel]float64
	vo     *voicer

	buf     []float32 // pending samples (pre-emphasised)
	rawBuf  []float32 // pending raw samples, for the energy
	bufBase int       // absolute index of buf[0]
	prev    float32   // last raw sample, for pre-emphasis across calls
	next    int       // next frame to emit
	seq     []float64
	coeffs  []complex128
	power   []float64
	logMel  [numMel]float64
}

type melFilter struct {
	lo      int // first FFT bin
	weights []float64
}

func newFrontEnd() *frontEnd {
	fe := &frontEnd{
		fft:    fourier.NewFFT(fftSize),
		seq:    make([]float64, fftSize),
		coeffs: make([]complex128, fftSize/2+1),
		power:  make([]float64, fftSize/2+1),
	}
	fe.vo = newVoicer(fe.fft)
	for i := range fe.window {
		fe.window[i] = 0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/float64(frameLen-1))
	}
	mel := func(f float64) float64 { return 1127 * math.Log(1+f/700) }
	inv := func(m float64) float64 { return 700 * (math.Exp(m/1127) - 1) }
	lo, hi := mel(melLowHz), mel(melHighHz)
	var edges [numMel + 2]float64
	for i := range edges {
		edges[i] = inv(lo + (hi-lo)*float64(i)/float64(numMel+1))
	}
	binHz := float64(sampleRate) / fftSize
	for m := range numMel {
		l, c, r := edges[m], edges[m+1], edges[m+2]
		first := int(math.Ceil(l / binHz))
		f := melFilter{lo: first}
		for b := first; float64(b)*binHz < r && b <= fftSize/2; b++ {
			hz := float64(b) * binHz
			w := 0.0
			if hz <= c {
				w = (hz - l) / (c - l)
			} else {
				w = (r - hz) / (r - c)
			}
			f.weights = append(f.weights, max(0, w))
		}
		fe.fbank[m] = f
	}
	// Orthonormal DCT-II rows 1..numCeps.
	for k := range numCeps {
		for m := range numMel {
			fe.dct[k][m] = math.Sqrt(2.0/numMel) * math.Cos(math.Pi*float64(k+1)*(float64(m)+0.5)/numMel)
		}
	}
	return fe
}

// frameSink receives one frame: its log energy in dBFS (mean square of the
// raw samples), its voicing (cepstral peak prominence), the pitch at the
// cepstral peak (meaningful only when voiced) and its cepstra.
type frameSink func(energyDB, voicing, pitchHz float32, ceps *[numCeps]float32)

// push feeds samples and emits every frame whose measurements are complete
// (the voicing window reaches 13 ms past the MFCC window, so emission lags
// by that much; flush emits the rest).
func (fe *frontEnd) push(x []float32, emit frameSink) {
	for _, v := range x {
		fe.vo.push(v)
		fe.buf = append(fe.buf, v-preEmph*fe.prev)
		fe.rawBuf = append(fe.rawBuf, v)
		fe.prev = v
	}
	fe.emitReady(emit, false)
}

// flush emits the remaining complete MFCC frames, their voicing windows
// zero-padded.
func (fe *frontEnd) flush(emit frameSink) { fe.emitReady(emit, true) }

func (fe *frontEnd) emitReady(emit frameSink, final bool) {
	var ceps [numCeps]float32
	total := fe.bufBase + len(fe.buf)
	for {
		s := fe.next * frameHop
		if s+frameLen > total || !final && !fe.vo.ready(fe.next) {
			break
		}
		i := s - fe.bufBase
		e := fe.frame(fe.buf[i:i+frameLen], fe.rawBuf[i:i+frameLen], &ceps)
		v, f0 := fe.vo.measure(fe.next)
		emit(e, v, f0, &ceps)
		fe.next++
	}
	// Keep the samples from the next frame on.
	if drop := fe.next*frameHop - fe.bufBase; drop > 0 && drop <= len(fe.buf) {
		fe.buf = append(fe.buf[:0], fe.buf[drop:]...)
		fe.rawBuf = append(fe.rawBuf[:0], fe.rawBuf[drop:]...)
		fe.bufBase += drop
	}
	fe.vo.discardBefore(fe.next)
}

// frame computes one frame's energy and cepstra.
func (fe *frontEnd) frame(x, raw []float32, ceps *[numCeps]float32) float32 {
	e := 0.0
	for _, v := range raw {
		e += float64(v) * float64(v)
	}
	energyDB := float32(10 * math.Log10(e/frameLen+1e-12))
	for i, v := range x {
		fe.seq[i] = float64(v) * fe.window[i]
	}
	clear(fe.seq[frameLen:])
	fe.fft.Coefficients(fe.coeffs, fe.seq)
	for i, c := range fe.coeffs {
		fe.power[i] = real(c)*real(c) + imag(c)*imag(c)
	}
	for m := range numMel {
		f := &fe.fbank[m]
		s := 0.0
		for j, w := range f.weights {
			s += w * fe.power[f.lo+j]
		}
		// Floor at about −100 dB below full scale so that digital silence
		// does not produce −∞.
		fe.logMel[m] = math.Log(s + 1e-7)
	}
	for k := range numCeps {
		s := 0.0
		for m, d := range fe.dct[k] {
			s += d * fe.logMel[m]
		}
		ceps[k] = float32(s)
	}
	return energyDB
}
