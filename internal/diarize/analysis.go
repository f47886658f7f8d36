package diarize

import "math"

// analysis holds the per-frame features of one recording: numCeps
// cepstra per 10 ms frame, normalised by normalise.
type analysis struct {
	n     int
	feats []float32
	level []float32 // c0 of each frame (not normalised)
}

// numCeps is the number of cepstra per frame (c1..c19).
const numCeps = 19

func (a *analysis) row(t int) []float32 { return a.feats[t*numCeps : (t+1)*numCeps] }

// normalise subtracts the mean and divides by the standard deviation of
// each cepstral dimension, both measured over the speech frames. One
// microphone is one channel for every speaker, so a per-recording
// normalisation removes the channel without removing what tells the
// voices apart (a per-segment mean subtraction would remove much of it).
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
