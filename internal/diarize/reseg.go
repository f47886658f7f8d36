package diarize

import (
	"math"
	"slices"
)

// Viterbi resegmentation: one GMM per speaker, MAP-adapted (means only)
// from a background model (UBM) trained on all the recording's speech, and
// an ergodic HMM over the speakers with a fixed cost for changing speaker.
// It moves boundaries to the frame where the acoustics change and gives
// the short segments the clustering left out to a speaker.
//
// Speaker models share the UBM's weights and variances, so each frame's
// top-C UBM components (cached once) carry nearly all of its likelihood
// under every speaker model too (Reynolds et al. 2000): adapting a model
// is a weighted sum and scoring costs C·D per frame and speaker instead of
// M·D (C = 4 of M = 32 here, 8 times less).

// trainUBM fits the background model on (a subsample of) the speech frames.
func trainUBM(a *analysis, speech []span, p *params) *gmm {
	return trainUBMSeed(a, speech, p, 1)
}

// trainUBMSeed is trainUBM from the initial means seed picks.
func trainUBMSeed(a *analysis, speech []span, p *params, seed uint64) *gmm {
	total := 0
	for _, s := range speech {
		total += s.len()
	}
	step := max(1, total/p.ubmMaxFrames)
	var idx []int32
	i := 0
	for _, s := range speech {
		for t := s.start; t < s.end; t++ {
			if i%step == 0 {
				idx = append(idx, int32(t))
			}
			i++
		}
	}
	return trainGMM(a.feats, numCeps, idx, p.ubmComponents, p.ubmIters, seed)
}

// scorer holds the UBM and, for every speech frame, its top-C components
// and their posteriors (normalised over the C).
type scorer struct {
	a    *analysis
	ubm  *gmm
	c    int
	top  []uint8   // a.n × c
	post []float32 // a.n × c
}

func newScorer(a *analysis, speech []span, ubm *gmm, c int) *scorer {
	c = min(c, ubm.k())
	s := &scorer{a: a, ubm: ubm, c: c, top: make([]uint8, a.n*c), post: make([]float32, a.n*c)}
	ll := make([]float64, ubm.k())
	order := make([]int, ubm.k())
	for _, sp := range speech {
		for t := sp.start; t < sp.end; t++ {
			ubm.compLogLik(a.row(t), ll)
			for i := range order {
				order[i] = i
			}
			// Partial selection of the c best components.
			for i := range c {
				b := i
				for j := i + 1; j < len(order); j++ {
					if ll[order[j]] > ll[order[b]] {
						b = j
					}
				}
				order[i], order[b] = order[b], order[i]
			}
			best := ll[order[0]]
			sum := 0.0
			for i := range c {
				sum += math.Exp(ll[order[i]] - best)
			}
			for i := range c {
				s.top[t*c+i] = uint8(order[i])
				s.post[t*c+i] = float32(math.Exp(ll[order[i]]-best) / sum)
			}
		}
	}
	return s
}

// adapt returns the MAP-adapted means (components × dims) of a speaker
// model for the frames idx: a component seen in n frames moves n/(n+r) of
// the way from the UBM mean to their mean (relevance factor r).
func (s *scorer) adapt(idx []int32, r float64) []float64 {
	dim, k := s.ubm.dim, s.ubm.k()
	n := make([]float64, k)
	f := make([]float64, k*dim)
	for _, t := range idx {
		x := s.a.row(int(t))
		for i := range s.c {
			c := int(s.top[int(t)*s.c+i])
			p := float64(s.post[int(t)*s.c+i])
			n[c] += p
			fc := f[c*dim : (c+1)*dim]
			for d, v := range x {
				fc[d] += p * float64(v)
			}
		}
	}
	mu := slices.Clone(s.ubm.mean)
	for c := range k {
		if n[c] == 0 {
			continue
		}
		al := n[c] / (n[c] + r)
		for d := range dim {
			mu[c*dim+d] = al*f[c*dim+d]/n[c] + (1-al)*s.ubm.mean[c*dim+d]
		}
	}
	return mu
}

// logLik returns the log-likelihood of frame t under the speaker model
// with means mu, summed over the frame's top C components.
func (s *scorer) logLik(t int, mu []float64) float64 {
	x := s.a.row(t)
	dim := s.ubm.dim
	best := math.Inf(-1)
	var l [maxTopC]float64
	for i := range s.c {
		c := int(s.top[t*s.c+i])
		m := mu[c*dim : (c+1)*dim]
		iv := s.ubm.ivar[c*dim : (c+1)*dim]
		q := 0.0
		for d, v := range x {
			e := float64(v) - m[d]
			q += e * e * iv[d]
		}
		l[i] = s.ubm.lconst[c] - 0.5*q
		best = max(best, l[i])
	}
	sum := 0.0 // Σ e^(l−best) − 1: the best term contributes 1
	for i := range s.c {
		if l[i] != best {
			sum += fastExp(l[i] - best)
		}
	}
	return best + log1pSmall(sum)
}

// log1pSmall is ln(1+y) for 0 ≤ y ≤ topC−1, to 6e-5 absolute at y = 3
// (the worst case with 4 components) and 1e-9 for y < 0.5, the usual
// case: with z = y/(2+y), ln(1+y) = 2·atanh(z) = 2(z + z³/3 + z⁵/5 + …).
func log1pSmall(y float64) float64 {
	z := y / (2 + y)
	z2 := z * z
	return 2 * z * (1 + z2*(1.0/3+z2*(1.0/5+z2*(1.0/7+z2*(1.0/9+z2*(1.0/11+z2*(1.0/13)))))))
}

// maxTopC bounds params.topC.
const maxTopC = 8

// fastExp is e^x for x ≤ 0 to about 1e-7 relative error: 2^(x·log₂e)
// split into an integer power (set in the exponent bits) and a degree-6
// polynomial for the fraction. math.Exp is exact to the last bit and twice
// as slow, which mattered: the mixture sum took a third of the CPU time.
func fastExp(x float64) float64 {
	if x < -700 {
		return 0
	}
	y := x * math.Log2E
	i := math.Floor(y)
	f := y - i // [0, 1)
	// 2^f, Taylor series of e^(f ln 2) to the 7th term.
	const l = math.Ln2
	z := f * l
	p := 1 + z*(1+z*(1.0/2+z*(1.0/6+z*(1.0/24+z*(1.0/120+z*(1.0/720+z*(1.0/5040)))))))
	return math.Float64frombits(math.Float64bits(p) + uint64(int64(i))<<52)
}

// resegment relabels every speech frame by Viterbi decoding with speaker
// models adapted to the current labels, iters times. labels has one entry
// per frame (−1 = non-speech) and is updated in place; clusters that lose
// all their frames disappear.
func resegment(sc *scorer, speech []span, labels []int, k, iters, step int, p *params) {
	for range iters {
		idx := make([][]int32, k)
		for t, l := range labels {
			if l >= 0 {
				idx[l] = append(idx[l], int32(t))
			}
		}
		var models [][]float64
		var ids []int
		for c := range k {
			if len(idx[c]) > 0 {
				models = append(models, sc.adapt(idx[c], p.relevance))
				ids = append(ids, c)
			}
		}
		if len(models) == 0 {
			return
		}
		decode(sc, speech, models, ids, labels, p.switchPenalty, step)
	}
}

// decode relabels the speech frames with the Viterbi path over the models
// (model j has label ids[j]). With step > 1 only every step-th frame is
// scored (each standing for the step frames from it), for the passes that
// decide which cluster holds which speech rather than where a turn ends.
func decode(sc *scorer, speech []span, models [][]float64, ids []int, labels []int, penalty float64, step int) {
	m := len(models)
	var ll []float64
	var back []int32
	for _, s := range speech {
		n := (s.len() + step - 1) / step
		if cap(ll) < n*m {
			ll = make([]float64, n*m)
			back = make([]int32, n*m)
		}
		ll, back = ll[:n*m], back[:n*m]
		for i := range n {
			t := s.start + i*step
			for j, mu := range models {
				ll[i*m+j] = sc.logLik(t, mu)
			}
		}
		path := viterbi(ll, back, n, m, penalty)
		for t := s.start; t < s.end; t++ {
			labels[t] = ids[path[(t-s.start)/step]]
		}
	}
}

// viterbi returns the best state sequence for n frames of m-state
// log-likelihoods ll (row-major), where changing state costs penalty;
// back (n·m) is scratch space.
func viterbi(ll []float64, back []int32, n, m int, penalty float64) []int {
	score := make([]float64, m)
	next := make([]float64, m)
	copy(score, ll[:m])
	for t := 1; t < n; t++ {
		best, bj := math.Inf(-1), 0
		for j, s := range score {
			if s > best {
				best, bj = s, j
			}
		}
		for j := range m {
			if sw := best - penalty; bj != j && sw > score[j] {
				next[j] = sw + ll[t*m+j]
				back[t*m+j] = int32(bj)
			} else {
				next[j] = score[j] + ll[t*m+j]
				back[t*m+j] = int32(j)
			}
		}
		score, next = next, score
	}
	bj := 0
	for j := range m {
		if score[j] > score[bj] {
			bj = j
		}
	}
	path := make([]int, n)
	for t := n - 1; t >= 0; t-- {
		path[t] = bj
		bj = int(back[t*m+bj])
	}
	return path
}
