package diarize

import (
	"fmt"
	"math"
)

// refine alternates Viterbi resegmentation and merging, starting from k
// clusters in labels: after each resegmentation, clusters that hold no
// turn of at least p.minTurnFrames are dissolved (their frames go to the
// remaining speakers at the next resegmentation), then the two clusters
// with the lowest ΔBIC-to-penalty ratio are merged while that ratio is
// under p.mergeRatio. It returns the final number of clusters, labels
// renumbered 0..K−1.
func refine(a *analysis, speech []span, ubm *gmm, labels []int, k int, opts Options, p *params) int {
	minK := max(1, opts.Speakers, opts.MinSpeakers)
	maxK := math.MaxInt
	if opts.Speakers > 0 {
		maxK = opts.Speakers
	} else if opts.MaxSpeakers > 0 {
		maxK = opts.MaxSpeakers
	}
	for {
		resegment(a, speech, ubm, labels, k, p)
		k = compact(labels)
		if k <= 1 {
			return k
		}
		st := make([]gaussStats, k)
		for c, idx := range trainingFrames(labels, k, p.changeGuard) {
			for _, t := range idx {
				st[c].add(a.row(int(t)))
			}
		}
		// A pair may merge when the difference between its two Gaussians
		// is not significant (ΔBIC ratio under mergeRatio) or, though
		// significant, too small to be another voice (divergence per
		// frame under mergeDivergence): large clusters of one speaker
		// always differ significantly, by content and intonation.
		bi, bj, best, bestDiv := -1, -1, math.Inf(1), 0.0
		minRatio := math.Inf(1)
		for i := range k {
			for j := i + 1; j < k; j++ {
				ratio, div := pairDistance(&st[i], &st[j])
				minRatio = min(minRatio, ratio)
				if (ratio < p.mergeRatio || div < p.mergeDivergence) && ratio < best {
					bi, bj, best, bestDiv = i, j, ratio, div
				}
			}
		}
		if debugMerges && bi >= 0 {
			fmt.Printf("  K=%d best merge ratio %.2f div %.2f (%.0f+%.0f frames)\n", k, best, bestDiv, st[bi].n, st[bj].n)
			for c, r := range runStats(labels, k) {
				fmt.Printf("     c%d frames %d runs %d maxrun %d sandwiched %.2f\n", c, r.frames, r.runs, r.maxRun, float64(r.sandwiched)/float64(r.runs))
			}
		}
		if k <= minK {
			return k
		}
		if bi < 0 && k > maxK {
			// Over the allowed count: merge the most alike pair anyway.
			for i := range k {
				for j := i + 1; j < k; j++ {
					if ratio, _ := pairDistance(&st[i], &st[j]); ratio <= minRatio {
						bi, bj = i, j
					}
				}
			}
		}
		if bi < 0 {
			// No pair is alike enough to merge. A cluster without a single
			// turn of minTurnFrames is most often overlapped speech or the
			// transitions between two speakers, not a speaker: dissolve the
			// shortest such cluster and try again.
			short := transitionClusters(labels, k, p)
			if len(short) == 0 {
				return k
			}
			if debugMerges {
				fmt.Printf("  K=%d dissolve %d\n", k, short[0])
			}
			dissolve(labels, short[:1], k)
			k = compact(labels)
			continue
		}
		for t, l := range labels {
			if l == bj {
				labels[t] = bi
			}
		}
		k = compact(labels)
	}
}

// compact renumbers the labels in use to 0..K−1 (in order of first use)
// and returns K.
func compact(labels []int) int {
	remap := map[int]int{}
	for t, l := range labels {
		if l < 0 {
			continue
		}
		r, ok := remap[l]
		if !ok {
			r = len(remap)
			remap[l] = r
		}
		labels[t] = r
	}
	return len(remap)
}

// shortClusters lists the clusters whose longest run of frames is shorter
// than minRun, shortest first.
func shortClusters(labels []int, k, minRun int) []int {
	longest := make([]int, k)
	for t := 0; t < len(labels); {
		l := labels[t]
		e := t + 1
		for e < len(labels) && labels[e] == l {
			e++
		}
		if l >= 0 {
			longest[l] = max(longest[l], e-t)
		}
		t = e
	}
	var out []int
	for c, n := range longest {
		if n < minRun {
			out = append(out, c)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && longest[out[j]] < longest[out[j-1]]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// dissolve gives the frames of the dropped clusters to the nearest
// surviving cluster in time (before, else after); the next
// resegmentation decides for good.
func dissolve(labels []int, drop []int, k int) {
	gone := make([]bool, k)
	for _, c := range drop {
		gone[c] = true
	}
	last := -1
	for t, l := range labels {
		switch {
		case l < 0:
		case gone[l]:
			labels[t] = -2 - 0 // placeholder, filled below
		default:
			last = l
		}
		_ = last
	}
	// Forward fill from the previous surviving label, then backward for a
	// leading run.
	prev := -1
	for t, l := range labels {
		if l == -2 {
			labels[t] = prev
			if prev < 0 {
				labels[t] = -2
			}
		} else if l >= 0 {
			prev = l
		}
	}
	next := -1
	for t := len(labels) - 1; t >= 0; t-- {
		if labels[t] == -2 {
			labels[t] = max(next, 0)
		} else if labels[t] >= 0 {
			next = labels[t]
		}
	}
}

type clusterRuns struct {
	frames, runs, maxRun, sandwiched int
}

// runStats describes the runs (turns) of each cluster: how many, the
// longest, and how many are sandwiched between two other speakers with no
// pause (under 0.3 s) on either side.
func runStats(labels []int, k int) []clusterRuns {
	type run struct{ lab, start, end int }
	var runs []run
	for t := 0; t < len(labels); {
		e := t + 1
		for e < len(labels) && labels[e] == labels[t] {
			e++
		}
		if labels[t] >= 0 {
			runs = append(runs, run{labels[t], t, e})
		}
		t = e
	}
	out := make([]clusterRuns, k)
	for i, r := range runs {
		c := &out[r.lab]
		c.frames += r.end - r.start
		c.runs++
		c.maxRun = max(c.maxRun, r.end-r.start)
		before := i > 0 && runs[i-1].lab != r.lab && r.start-runs[i-1].end < 30
		after := i+1 < len(runs) && runs[i+1].lab != r.lab && runs[i+1].start-r.end < 30
		if before && after {
			c.sandwiched++
		}
	}
	return out
}

// transitionClusters lists the clusters that look like overlapped speech
// or turn transitions rather than a speaker: no turn of p.minTurnFrames,
// or at least p.sandwichFrac of their (≥ 3) turns squeezed between two
// other speakers without a pause. Most sandwiched first.
func transitionClusters(labels []int, k int, p *params) []int {
	rs := runStats(labels, k)
	var out []int
	frac := func(c int) float64 { return float64(rs[c].sandwiched) / float64(max(1, rs[c].runs)) }
	for c, r := range rs {
		if r.maxRun < p.minTurnFrames || r.runs >= 3 && frac(c) >= p.sandwichFrac {
			out = append(out, c)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && frac(out[j]) > frac(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// pairDistance returns, for two clusters' Gaussians, the ΔBIC likelihood
// ratio over its penalty (λ = 1) and the likelihood ratio less the
// penalty per effective frame (the harmonic mean of the two sizes): a
// significance and an effect size.
func pairDistance(x, y *gaussStats) (ratio, div float64) {
	glr := 0.5 * ((x.n+y.n)*x.logDet(y) - x.n*x.logDet(nil) - y.n*y.logDet(nil))
	pen := 0.5 * (numCeps + 0.5*numCeps*(numCeps+1)) * math.Log(x.n+y.n)
	nh := x.n * y.n / (x.n + y.n)
	return glr / pen, (glr - pen) / nh
}
