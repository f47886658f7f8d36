package audio

import (
	"errors"
	"fmt"
	"math"
)

// ErrBadMFCCConfig reports an MFCCConfig that cannot work.
var ErrBadMFCCConfig = errors.New("audio: bad MFCC config")

// MFCCConfig sets up the cepstral front end. The defaults are the usual
// speaker-diarization/ASR front end (HTK/Kaldi conventions): 25 ms Hamming
// frames every 10 ms, pre-emphasis 0.97, 40 triangular filters on the HTK
// mel scale from 20 Hz to 7.6 kHz, 13 cepstra (orthonormal DCT-II) liftered
// with L = 22, deltas and delta-deltas over ±2 frames, and cepstral mean
// normalisation over a sliding window of the last 3 s.
type MFCCConfig struct {
	SampleRate  int     // Hz; the speech path uses 16000
	FrameLength float64 // seconds
	FrameShift  float64 // seconds
	PreEmphasis float64 // 0 disables
	NumFilters  int
	NumCeps     int
	LowFreq     float64 // Hz
	HighFreq    float64 // Hz; ≤ SampleRate/2
	Lifter      float64 // cepstral liftering coefficient L; 0 disables
	// DeltaWindow N: deltas by linear regression over ±N frames (0: no
	// deltas, 39 → 13 values per frame); delta-deltas likewise.
	DeltaWindow int
	// CMNWindow is the number of past frames (including the current one)
	// whose mean is subtracted from the cepstra; 0 disables.
	CMNWindow int
	// UseEnergy replaces c0 with the frame's log energy (before windowing).
	UseEnergy bool
}

// DefaultMFCCConfig returns the configuration described on MFCCConfig.
func DefaultMFCCConfig() MFCCConfig {
	return MFCCConfig{
		SampleRate:  16000,
		FrameLength: 0.025,
		FrameShift:  0.010,
		PreEmphasis: 0.97,
		NumFilters:  40,
		NumCeps:     13,
		LowFreq:     20,
		HighFreq:    7600,
		Lifter:      22,
		DeltaWindow: 2,
		CMNWindow:   300,
	}
}

// Dim returns the length of one output frame.
func (c MFCCConfig) Dim() int {
	if c.DeltaWindow > 0 {
		return 3 * c.NumCeps
	}
	return c.NumCeps
}

// Mel converts Hz to the HTK mel scale: 1127·ln(1 + f/700).
func Mel(hz float64) float64 { return 1127 * math.Log(1+hz/700) }

// MelToHz inverts Mel.
func MelToHz(mel float64) float64 { return 700 * (math.Exp(mel/1127) - 1) }

// melFilter is one triangular filter: weights for bins lo..lo+len(w)-1.
type melFilter struct {
	lo int
	w  []float64
}

// MFCC computes mel-frequency cepstral coefficients, offline (Compute) or
// streaming (Write then Flush). Each output frame is
// [c0..c(n-1), Δc0..Δc(n-1), ΔΔc0..ΔΔc(n-1)]. Not safe for concurrent use.
type MFCC struct {
	cfg      MFCCConfig
	frameLen int
	shift    int
	fft      *FFT
	window   []float64
	filters  []melFilter
	dct      [][]float64 // NumCeps × NumFilters
	lifter   []float64

	buf    []float32 // samples not yet framed
	frame  []float64
	pow    []float64
	logMel []float64

	statics  [][]float64 // cepstra (after CMN) waiting for their deltas
	cmnSum   []float64
	cmnHist  [][]float64 // ring of the last CMNWindow raw cepstra
	cmnN     int
	emitted  int // frames output
	produced int // static frames produced
}

// NewMFCC returns an MFCC front end for cfg.
func NewMFCC(cfg MFCCConfig) (*MFCC, error) {
	if cfg.SampleRate <= 0 || cfg.FrameLength <= 0 || cfg.FrameShift <= 0 || cfg.NumFilters < 1 ||
		cfg.NumCeps < 1 || cfg.NumCeps > cfg.NumFilters || cfg.LowFreq < 0 ||
		cfg.HighFreq <= cfg.LowFreq || cfg.HighFreq > float64(cfg.SampleRate)/2 ||
		cfg.DeltaWindow < 0 || cfg.CMNWindow < 0 {
		return nil, fmt.Errorf("%w: %+v", ErrBadMFCCConfig, cfg)
	}
	m := &MFCC{cfg: cfg,
		frameLen: int(math.Round(cfg.FrameLength * float64(cfg.SampleRate))),
		shift:    int(math.Round(cfg.FrameShift * float64(cfg.SampleRate)))}
	if m.frameLen < 2 || m.shift < 1 {
		return nil, fmt.Errorf("%w: frames of %d samples every %d", ErrBadMFCCConfig, m.frameLen, m.shift)
	}
	n := 2
	for n < m.frameLen {
		n *= 2
	}
	m.fft, _ = NewFFT(n)
	m.window = make([]float64, m.frameLen)
	for i := range m.window {
		m.window[i] = 0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/float64(m.frameLen-1))
	}
	m.frame = make([]float64, m.frameLen)
	m.pow = make([]float64, n/2+1)
	m.logMel = make([]float64, cfg.NumFilters)

	// Triangular filters equally spaced on the mel scale; filter j rises
	// from edge j to its centre j+1 and falls to edge j+2.
	lo, hi := Mel(cfg.LowFreq), Mel(cfg.HighFreq)
	edges := make([]float64, cfg.NumFilters+2)
	for j := range edges {
		edges[j] = lo + (hi-lo)*float64(j)/float64(cfg.NumFilters+1)
	}
	binHz := float64(cfg.SampleRate) / float64(n)
	for j := range cfg.NumFilters {
		l, c, r := edges[j], edges[j+1], edges[j+2]
		f := melFilter{lo: -1}
		for k := 1; k <= n/2; k++ {
			mk := Mel(float64(k) * binHz)
			var w float64
			switch {
			case mk > l && mk <= c:
				w = (mk - l) / (c - l)
			case mk > c && mk < r:
				w = (r - mk) / (r - c)
			}
			if w > 0 {
				if f.lo < 0 {
					f.lo = k
				}
				f.w = append(f.w, w)
			} else if f.lo >= 0 {
				break
			}
		}
		if f.lo < 0 {
			return nil, fmt.Errorf("%w: mel filter %d holds no FFT bin (too many filters for %d-point frames)", ErrBadMFCCConfig, j, n)
		}
		m.filters = append(m.filters, f)
	}
	// Orthonormal DCT-II: c_i = sqrt(2/M)·Σ_j x_j·cos(π·i·(j+½)/M), with
	// sqrt(1/M) for i = 0.
	M := float64(cfg.NumFilters)
	m.dct = make([][]float64, cfg.NumCeps)
	for i := range m.dct {
		row := make([]float64, cfg.NumFilters)
		s := math.Sqrt(2 / M)
		if i == 0 {
			s = math.Sqrt(1 / M)
		}
		for j := range row {
			row[j] = s * math.Cos(math.Pi*float64(i)*(float64(j)+0.5)/M)
		}
		m.dct[i] = row
	}
	m.lifter = make([]float64, cfg.NumCeps)
	for i := range m.lifter {
		m.lifter[i] = 1
		if cfg.Lifter > 0 {
			m.lifter[i] = 1 + cfg.Lifter/2*math.Sin(math.Pi*float64(i)/cfg.Lifter)
		}
	}
	if cfg.CMNWindow > 0 {
		m.cmnSum = make([]float64, cfg.NumCeps)
		m.cmnHist = make([][]float64, cfg.CMNWindow)
	}
	return m, nil
}

// Config returns the configuration.
func (m *MFCC) Config() MFCCConfig { return m.cfg }

// Compute returns the features of a whole signal (frames that fit whole:
// 1 + (len−frameLength)/shift of them).
func (m *MFCC) Compute(samples []float32) [][]float64 {
	m.Reset()
	out := m.Write(samples)
	out = append(out, m.Flush()...)
	m.Reset()
	return out
}

// Reset forgets the stream so far.
func (m *MFCC) Reset() {
	m.buf, m.statics = m.buf[:0], m.statics[:0]
	m.emitted, m.produced, m.cmnN = 0, 0, 0
	clear(m.cmnSum)
}

// Write consumes samples and returns the frames whose deltas are known
// (output lags input by 2·DeltaWindow frames).
func (m *MFCC) Write(samples []float32) [][]float64 {
	m.buf = append(m.buf, samples...)
	var out [][]float64
	off := 0
	for off+m.frameLen <= len(m.buf) {
		for i := range m.frameLen {
			m.frame[i] = float64(m.buf[off+i])
		}
		m.statics = append(m.statics, m.normalise(m.cepstra(m.frame)))
		m.produced++
		off += m.shift
		out = m.drain(out, false)
	}
	n := copy(m.buf, m.buf[off:])
	m.buf = m.buf[:n]
	return out
}

// Flush returns the remaining frames, the edge frames' deltas computed by
// repeating the last frame.
func (m *MFCC) Flush() [][]float64 { return m.drain(nil, true) }

// LogMel returns the log mel filterbank energies (natural log) of one
// frame of FrameLength samples; the slice is reused by the next call.
func (m *MFCC) LogMel(frame []float32) []float64 {
	for i := range m.frame {
		var v float64
		if i < len(frame) {
			v = float64(frame[i])
		}
		m.frame[i] = v
	}
	m.analyse(m.frame)
	return m.logMel
}

// analyse fills m.logMel from x (modified in place) and returns the log
// energy of x before windowing.
func (m *MFCC) analyse(x []float64) float64 {
	// Remove DC, as Kaldi does, so a microphone offset does not leak into
	// the lowest filter.
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	var energy float64
	for i := range x {
		x[i] -= mean
		energy += x[i] * x[i]
	}
	if p := m.cfg.PreEmphasis; p > 0 {
		for i := len(x) - 1; i > 0; i-- {
			x[i] -= p * x[i-1]
		}
		x[0] -= p * x[0]
	}
	for i := range x {
		x[i] *= m.window[i]
	}
	m.fft.PowerSpectrum(x, m.pow)
	for j, f := range m.filters {
		var e float64
		for i, w := range f.w {
			e += w * m.pow[f.lo+i]
		}
		m.logMel[j] = math.Log(max(e, 1e-10))
	}
	return math.Log(max(energy, 1e-10))
}

// cepstra returns the liftered cepstra of one frame.
func (m *MFCC) cepstra(x []float64) []float64 {
	logE := m.analyse(x)
	c := make([]float64, m.cfg.NumCeps)
	for i, row := range m.dct {
		var s float64
		for j, v := range row {
			s += v * m.logMel[j]
		}
		c[i] = s * m.lifter[i]
	}
	if m.cfg.UseEnergy {
		c[0] = logE
	}
	return c
}

// normalise subtracts the mean of the last CMNWindow frames (causal
// sliding-window CMN: a channel's constant colouring is a constant offset
// of the cepstra).
func (m *MFCC) normalise(c []float64) []float64 {
	w := m.cfg.CMNWindow
	if w == 0 {
		return c
	}
	slot := m.cmnN % w
	if old := m.cmnHist[slot]; old != nil && m.cmnN >= w {
		for i, v := range old {
			m.cmnSum[i] -= v
		}
	}
	raw := append([]float64(nil), c...)
	m.cmnHist[slot] = raw
	for i, v := range raw {
		m.cmnSum[i] += v
	}
	m.cmnN++
	n := float64(min(m.cmnN, w))
	for i := range c {
		c[i] -= m.cmnSum[i] / n
	}
	return c
}

// drain emits frames whose deltas can be computed.
func (m *MFCC) drain(out [][]float64, final bool) [][]float64 {
	N := m.cfg.DeltaWindow
	for m.emitted < m.produced {
		t := m.emitted
		if !final && t+2*N >= m.produced {
			break
		}
		out = append(out, m.assemble(t))
		m.emitted++
	}
	// Keep the 2N frames before the next one to emit (and drop the rest).
	if keep := m.emitted - 2*N - m.first(); keep > 0 {
		m.statics = m.statics[keep:]
	}
	return out
}

// first is the frame index of m.statics[0].
func (m *MFCC) first() int { return m.produced - len(m.statics) }

// static returns the static frame t, edges repeated.
func (m *MFCC) static(t int) []float64 {
	t = max(m.first(), min(m.produced-1, t))
	return m.statics[t-m.first()]
}

func (m *MFCC) delta(f func(int) []float64, t int) []float64 {
	N := m.cfg.DeltaWindow
	d := make([]float64, m.cfg.NumCeps)
	var norm float64
	for n := 1; n <= N; n++ {
		norm += 2 * float64(n*n)
		a, b := f(t+n), f(t-n)
		for i := range d {
			d[i] += float64(n) * (a[i] - b[i])
		}
	}
	for i := range d {
		d[i] /= norm
	}
	return d
}

func (m *MFCC) assemble(t int) []float64 {
	s := m.static(t)
	row := make([]float64, 0, m.cfg.Dim())
	row = append(row, s...)
	if m.cfg.DeltaWindow == 0 {
		return row
	}
	d := func(u int) []float64 { return m.delta(m.static, u) }
	row = append(row, d(t)...)
	row = append(row, m.delta(d, t)...)
	return row
}
