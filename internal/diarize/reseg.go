package diarize

import (
	"math"
)

// Viterbi resegmentation: one GMM per speaker, MAP-adapted from a
// background model trained on all the recording's speech, and an ergodic
// HMM over the speakers with a fixed cost for changing speaker. It moves
// boundaries to the frame where the acoustics change and reassigns the
// short segments the clustering left out.

// trainUBM fits the background model on (a subsample of) the speech frames.
func trainUBM(a *analysis, speech []span, p *params) *gmm {
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
	return trainGMM(a.feats, numCeps, idx, p.ubmComponents, p.ubmIters, 1)
}

// resegment relabels every speech frame by Viterbi decoding with speaker
// models trained on the current labels, p.resegIters times. labels has one
// entry per frame (−1 = non-speech) and is updated in place; it returns
// the number of speakers still holding frames.
func resegment(a *analysis, speech []span, ubm *gmm, labels []int, k int, p *params) int {
	scratch := make([]float64, ubm.k())
	ll := make([]float64, 0)
	for range p.resegIters {
		idx := make([][]int32, k)
		for t, l := range labels {
			if l >= 0 {
				idx[l] = append(idx[l], int32(t))
			}
		}
		var models []*gmm
		var ids []int
		for c := range k {
			if len(idx[c]) == 0 {
				continue
			}
			models = append(models, mapAdapt(ubm, a.feats, idx[c], p.relevance))
			ids = append(ids, c)
		}
		m := len(models)
		if m == 0 {
			return 0
		}
		for _, s := range speech {
			n := s.len()
			if cap(ll) < n*m {
				ll = make([]float64, n*m)
			}
			ll = ll[:n*m]
			for t := range n {
				x := a.row(s.start + t)
				for j, g := range models {
					ll[t*m+j] = g.logLik(x, scratch)
				}
			}
			path := viterbi(ll, n, m, p.switchPenalty)
			for t := range n {
				labels[s.start+t] = ids[path[t]]
			}
		}
	}
	used := map[int]bool{}
	for _, l := range labels {
		if l >= 0 {
			used[l] = true
		}
	}
	return len(used)
}

// viterbi returns the best state sequence for n frames of m-state
// log-likelihoods ll (row-major), where changing state costs penalty.
func viterbi(ll []float64, n, m int, penalty float64) []int {
	back := make([]int32, n*m)
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
			stay := score[j]
			if sw := best - penalty; sw > stay && bj != j {
				next[j] = sw + ll[t*m+j]
				back[t*m+j] = int32(bj)
			} else {
				next[j] = stay + ll[t*m+j]
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
