package diarize

import (
	"fmt"
	"math"
)

// Cross-validated merging. Two clusters are one speaker when a single
// model trained on both predicts their held-out speech as well as two
// models do. The turns of each cluster are dealt alternately into two
// folds; models trained on one fold score the other, and the other way
// round. The test is a likelihood ratio on held-out data, so its natural
// threshold is zero: a split that only fits noise or phonetic content
// does not generalise to other turns.

// cvFolds deals the runs (turns) of each label alternately into folds 0
// and 1 and returns, per label and fold, the frames. Runs separated by
// less than 0.3 s of non-speech count as one.
func cvFolds(labels []int, k int) [][2][]int32 {
	out := make([][2][]int32, k)
	next := make([]int, k) // fold of each label's next run
	prev, prevT := -1, -10
	fold := 0
	for t, l := range labels {
		if l < 0 {
			continue
		}
		if l != prev || t-prevT > 30 {
			fold = next[l]
			next[l] ^= 1
		}
		out[l][fold] = append(out[l][fold], int32(t))
		prev, prevT = l, t
	}
	return out
}

// cvMerge merges clusters while the best pair's held-out gain from merging
// is above p.cvThreshold (nats per held-out frame), or while there are
// more clusters than allowed; after each merge the frames are
// resegmented. It returns the final number of clusters.
func cvMerge(a *analysis, speech []span, ubm *gmm, labels []int, k int, opts Options, p *params) int {
	minK := max(1, opts.Speakers, opts.MinSpeakers)
	maxK := math.MaxInt
	if opts.Speakers > 0 {
		maxK = opts.Speakers
	} else if opts.MaxSpeakers > 0 {
		maxK = opts.MaxSpeakers
	}
	scratch := make([]float64, ubm.k())
	for {
		resegment(a, speech, ubm, labels, k, p)
		k = compact(labels)
		if k <= minK {
			return k
		}
		folds := cvFolds(labels, k)
		// Per cluster and fold: model trained on that fold, and the
		// log-likelihood it gives the other fold.
		models := make([][2]*gmm, k)
		sep := make([][2]float64, k) // held-out LL of fold f under the model of fold 1−f
		for c := range k {
			for f := range 2 {
				if len(folds[c][f]) > 0 {
					models[c][f] = adaptML(ubm, a.feats, folds[c][f], p.speakerIters)
				}
			}
			for f := range 2 {
				if m := models[c][1-f]; m != nil {
					sep[c][f] = m.logLikSum(a.feats, folds[c][f], scratch)
				}
			}
		}
		bi, bj, best := -1, -1, math.Inf(-1)
		for i := range k {
			for j := i + 1; j < k; j++ {
				gain, n := 0.0, 0
				for f := range 2 {
					tr := 1 - f
					mi, mj := models[i][tr], models[j][tr]
					if mi == nil || mj == nil {
						continue // one side has no training turn in this fold
					}
					union := append(append([]int32(nil), folds[i][tr]...), folds[j][tr]...)
					m := adaptML(ubm, a.feats, union, p.speakerIters)
					merged := m.logLikSum(a.feats, folds[i][f], scratch) + m.logLikSum(a.feats, folds[j][f], scratch)
					gain += merged - sep[i][f] - sep[j][f]
					n += len(folds[i][f]) + len(folds[j][f])
				}
				if n == 0 {
					// Single-turn clusters cannot be cross-validated: a
					// cluster of one turn is judged against its neighbours
					// by the merge with the others (gain treated as 0).
					if best < 0 {
						bi, bj, best = i, j, 0
					}
					continue
				}
				if g := gain / float64(n); g > best {
					bi, bj, best = i, j, g
				}
			}
		}
		if debugMerges {
			fmt.Printf("  cv K=%d best gain %.3f (%d+%d)\n", k, best, bi, bj)
		}
		if k <= maxK && best < p.cvThreshold {
			return k
		}
		for t, l := range labels {
			if l == bj {
				labels[t] = bi
			}
		}
		k = compact(labels)
	}
}
