package diarize

import (
	"fmt"
	"math"
)

// Ajmera–Wooters clustering (Ajmera & Wooters 2003, "A robust speaker
// clustering algorithm"; the ICSI meeting diarizer): two clusters are
// merged when one GMM holding the Gaussians of both, retrained on their
// union, explains the data at least as well as the two apart. The merged
// model has exactly as many parameters as the pair, so the BIC penalty
// cancels and the stopping rule (ΔBIC ≤ 0 for every pair) needs no weight.
// Models here are the UBM retrained on each cluster (adaptML).

// awCluster clusters the speech frames starting from the k clusters in
// labels (−1 = non-speech) and returns the final number of clusters,
// labels relabelled 0..K−1.
func awCluster(a *analysis, speech []span, ubm *gmm, labels []int, k int, opts Options, p *params) int {
	minK := max(1, opts.Speakers, opts.MinSpeakers)
	maxK := math.MaxInt
	if opts.Speakers > 0 {
		maxK = opts.Speakers
	} else if opts.MaxSpeakers > 0 {
		maxK = opts.MaxSpeakers
	}
	scratch := make([]float64, 2*ubm.k())
	for {
		resegment(a, speech, ubm, labels, k, p)
		k = compact(labels)
		if k <= minK {
			return k
		}
		idx := trainingFrames(labels, k, p.changeGuard)
		models := make([]*gmm, k)
		ll := make([]float64, k)
		for c := range k {
			models[c] = adaptML(ubm, a.feats, idx[c], p.speakerIters)
			ll[c] = models[c].logLikSum(a.feats, idx[c], scratch)
		}
		bi, bj, best := -1, -1, math.Inf(-1)
		for i := range k {
			for j := i + 1; j < k; j++ {
				union := append(append([]int32(nil), idx[i]...), idx[j]...)
				m := concat(models[i], models[j], float64(len(idx[i])), float64(len(idx[j])))
				m.em(a.feats, union, p.awIters, nil)
				d := (m.logLikSum(a.feats, union, scratch) - ll[i] - ll[j])
				if d > best {
					bi, bj, best = i, j, d
				}
			}
		}
		if debugMerges {
			fmt.Printf("  aw K=%d best ΔL %.1f (%d+%d frames) per frame %.3f\n", k, best, len(idx[bi]), len(idx[bj]), best/float64(len(idx[bi])+len(idx[bj])))
		}
		if k <= maxK && best <= p.awThreshold {
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
