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
	for it := range p.resegIters {
		idx := trainingFrames(labels, k, p.changeGuard)
		var models []*gmm
		var ids []int
		for c := range k {
			if len(idx[c]) == 0 {
				continue
			}
			if p.adaptML {
				models = append(models, adaptML(ubm, a.feats, idx[c], p.speakerIters))
			} else if p.mlModels {
				ng := max(1, min(p.speakerGauss, len(idx[c])/p.framesPerGauss))
				models = append(models, trainGMM(a.feats, numCeps, idx[c], ng, p.speakerIters, uint64(it*1000+c+1)))
			} else {
				models = append(models, mapAdapt(ubm, a.feats, idx[c], p.relevance))
			}
			ids = append(ids, c)
		}
		if len(models) == 0 {
			return 0
		}
		decode(a, speech, models, ids, labels, p.switchPenalty)
	}
	used := map[int]bool{}
	for _, l := range labels {
		if l >= 0 {
			used[l] = true
		}
	}
	return len(used)
}

// decode relabels the speech frames with the Viterbi path over models
// (model j has label ids[j]).
func decode(a *analysis, speech []span, models []*gmm, ids []int, labels []int, penalty float64) {
	m := len(models)
	scratch := make([]float64, models[0].k())
	var ll []float64
	for _, s := range speech {
		n := s.len()
		if cap(ll) < n*m {
			ll = make([]float64, n*m)
		}
		ll = ll[:n*m]
		for t := range n {
			x := a.row(s.start + t)
			for j, g := range models {
				if len(scratch) < g.k() {
					scratch = make([]float64, g.k())
				}
				ll[t*m+j] = g.logLik(x, scratch)
			}
		}
		path := viterbi(ll, n, m, penalty)
		for t := range n {
			labels[s.start+t] = ids[path[t]]
		}
	}
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

// trainingFrames lists, per label, the frames its model is trained on:
// the core frames (see coreFrames), or all of its frames when it has
// fewer than half a second of core.
func trainingFrames(labels []int, k, guard int) [][]int32 {
	core := coreFrames(labels, guard)
	all := make([][]int32, k)
	idx := make([][]int32, k)
	for t, l := range labels {
		if l < 0 {
			continue
		}
		all[l] = append(all[l], int32(t))
		if core[t] {
			idx[l] = append(idx[l], int32(t))
		}
	}
	for c := range idx {
		if len(idx[c]) < 50 {
			idx[c] = all[c]
		}
	}
	return idx
}

// coreFrames marks the labelled frames away from the changes of label
// between two speakers: overlapped speech and the transitions between
// turns sit at those changes, and training a speaker's model or statistics
// on them blurs it towards the other speaker. Each run of one label loses
// min(guard, a quarter of its length) frames at an end that meets another
// speaker, so that short turns keep half their frames.
func coreFrames(labels []int, guard int) []bool {
	core := make([]bool, len(labels))
	for t, l := range labels {
		core[t] = l >= 0
	}
	if guard <= 0 {
		return core
	}
	// Runs of one label over speech frames (non-speech gaps do not end a
	// run's speaker but do not count as a change either).
	type run struct{ lab, start, end int }
	var runs []run
	for t, l := range labels {
		if l < 0 {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1].lab == l && t-runs[n-1].end < 30 {
			runs[n-1].end = t + 1
			continue
		}
		runs = append(runs, run{l, t, t + 1})
	}
	for i, r := range runs {
		g := min(guard, (r.end-r.start)/4)
		if i > 0 && runs[i-1].lab != r.lab && r.start-runs[i-1].end < 30 {
			for u := r.start; u < r.start+g; u++ {
				core[u] = false
			}
		}
		if i+1 < len(runs) && runs[i+1].lab != r.lab && runs[i+1].start-r.end < 30 {
			for u := r.end - g; u < r.end; u++ {
				core[u] = false
			}
		}
	}
	return core
}
