package diarize

import (
	"math"
	"math/rand/v2"
)

// testVoice is a crude synthetic talker for tests that must not depend on
// a speech synthesiser: a glottal pulse train at pitch f0 (with a little
// jitter and a slow intonation contour) through a cascade of formant
// resonators whose frequencies step through three "vowels" every 120 ms.
// Two testVoices with different pitch and formants are as different as
// two real voices for MFCCs, and the VAD hears them as voiced speech.
type testVoice struct {
	f0     float64
	vowels [3][3]float64 // formant frequencies (Hz) of three vowels
	scale  float64       // formant scale (vocal tract length)
}

var (
	voiceLow  = testVoice{f0: 105, vowels: [3][3]float64{{700, 1150, 2500}, {350, 2000, 2700}, {450, 850, 2400}}, scale: 1}
	voiceHigh = testVoice{f0: 215, vowels: [3][3]float64{{850, 1350, 2900}, {400, 2400, 3100}, {520, 1000, 2800}}, scale: 1.12}
	voiceMid  = testVoice{f0: 150, vowels: [3][3]float64{{600, 1700, 2600}, {300, 1400, 2300}, {650, 1100, 2200}}, scale: 0.95}
)

// render returns dur seconds of the voice at 16 kHz, peak level about
// −12 dBFS.
func (v testVoice) render(dur float64, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 11))
	n := int(dur * 16000)
	out := make([]float32, n)
	// Resonator states per formant.
	var y1, y2 [3]float64
	phase := 0.0
	for i := range n {
		t := float64(i) / 16000
		f0 := v.f0 * (1 + 0.08*math.Sin(2*math.Pi*0.7*t) + 0.01*rng.NormFloat64())
		phase += f0 / 16000
		x := 0.0
		if phase >= 1 {
			phase -= 1
			x = 1
		}
		x += 0.002 * rng.NormFloat64() // aspiration
		vw := v.vowels[int(t/0.12)%3]
		for k := range 3 {
			f := vw[k] * v.scale
			bw := 60.0 + 40*float64(k)
			r := math.Exp(-math.Pi * bw / 16000)
			a1 := 2 * r * math.Cos(2*math.Pi*f/16000)
			a2 := -r * r
			y := (1-r)*x + a1*y1[k] + a2*y2[k]
			y2[k], y1[k] = y1[k], y
			x = y
		}
		out[i] = float32(x)
	}
	peak := 0.0
	for _, s := range out {
		peak = max(peak, math.Abs(float64(s)))
	}
	for i := range out {
		out[i] = float32(float64(out[i]) / peak * 0.25)
	}
	return out
}

// concat joins signals with the given silences (seconds) between them.
func concat(parts [][]float32, gap float64) []float32 {
	var out []float32
	for i, p := range parts {
		if i > 0 {
			out = append(out, make([]float32, int(gap*16000))...)
		}
		out = append(out, p...)
	}
	return out
}
