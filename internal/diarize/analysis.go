package diarize

import (
	"context"
	"math"
)

// analysis holds the per-frame measurements of one recording.
type analysis struct {
	n       int
	energy  []float32 // dBFS
	voicing []float32 // cepstral peak prominence
	pitch   []float32 // Hz at the cepstral peak; meaningful when voiced
	feats   []float32 // n × numCeps cepstra, normalised by normalise()
}

func (a *analysis) row(t int) []float32 { return a.feats[t*numCeps : (t+1)*numCeps] }

// analyze runs the front end over samples. It checks ctx every ~10 s of
// audio.
func analyze(ctx context.Context, samples []float32) (*analysis, error) {
	fe := newFrontEnd()
	nf := 0
	if len(samples) >= frameLen {
		nf = 1 + (len(samples)-frameLen)/frameHop
	}
	a := &analysis{
		energy:  make([]float32, 0, nf),
		voicing: make([]float32, 0, nf),
		pitch:   make([]float32, 0, nf),
		feats:   make([]float32, 0, nf*numCeps),
	}
	emit := func(e, v, f0 float32, c *[numCeps]float32) {
		a.energy = append(a.energy, e)
		a.voicing = append(a.voicing, v)
		a.pitch = append(a.pitch, f0)
		a.feats = append(a.feats, c[:]...)
	}
	const chunk = 10 * sampleRate
	for i := 0; i < len(samples); i += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fe.push(samples[i:min(i+chunk, len(samples))], emit)
	}
	fe.flush(emit)
	a.n = len(a.energy)
	return a, nil
}

// normalise subtracts the mean and divides by the standard deviation of
// each cepstral dimension, both measured over the speech frames. One
// microphone means one channel for every speaker, so a per-recording
// normalisation removes the channel without removing what distinguishes
// the voices (a per-segment mean subtraction would remove much of it).
func (a *analysis) normalise(speech []span) {
	var sum, sq [numCeps]float64
	n := 0.0
	for _, s := range speech {
		for t := s.start; t < s.end; t++ {
			for d, v := range a.row(t) {
				sum[d] += float64(v)
				sq[d] += float64(v) * float64(v)
			}
			n++
		}
	}
	if n < 2 {
		return
	}
	var mean, inv [numCeps]float32
	for d := range numCeps {
		m := sum[d] / n
		mean[d] = float32(m)
		inv[d] = float32(1 / math.Sqrt(max(sq[d]/n-m*m, 1e-6)))
	}
	for t := range a.n {
		r := a.row(t)
		for d := range r {
			r[d] = (r[d] - mean[d]) * inv[d]
		}
	}
}

// span is a half-open range of frames.
type span struct{ start, end int }

func (s span) len() int { return s.end - s.start }
