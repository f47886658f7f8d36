package diarize

import (
	"fmt"
	"math"
	"slices"
)

// refine alternates Viterbi resegmentation and merging, starting from k
// clusters in labels. After each resegmentation the two clusters whose
// Gaussians are most alike merge, as long as they are alike enough (see
// mergeable); when no pair is, a cluster that looks like overlapped speech
// or turn transitions rather than a speaker is dissolved and the loop goes
// on. Labels end up numbered 0..K−1; refine returns K.
func refine(sc *scorer, speech []span, labels []int, k int, opts Options, p *params, debug func(string, ...any)) int {
	minK := max(1, opts.Speakers, opts.MinSpeakers)
	maxK := math.MaxInt
	if opts.Speakers > 0 {
		maxK = opts.Speakers
	} else if opts.MaxSpeakers > 0 {
		maxK = opts.MaxSpeakers
	}
	for {
		resegment(sc, speech, labels, k, p.resegIters, p.loopStep, p)
		k = compact(labels)
		if k <= minK {
			return k
		}
		st := make([]gaussStats, k)
		for t, l := range labels {
			if l >= 0 {
				st[l].add(sc.a.row(t))
			}
		}
		bi, bj, best := -1, -1, math.Inf(1)
		ai, aj, alike := -1, -1, math.Inf(1) // the most alike pair, mergeable or not
		minDiv := math.Inf(1)
		for i := range k {
			for j := i + 1; j < k; j++ {
				ratio, div := pairDistance(&st[i], &st[j])
				if ratio < alike {
					ai, aj, alike = i, j, ratio
				}
				minDiv = min(minDiv, div)
				if (ratio < p.mergeRatio || div < p.mergeDivergence) && ratio < best {
					bi, bj, best = i, j, ratio
				}
			}
		}
		if bi < 0 && k > maxK {
			bi, bj = ai, aj // over the allowed count: merge the most alike anyway
		}
		if bi < 0 {
			debug("no mergeable pair", "k", k, "lowest ratio", alike, "lowest divergence", minDiv)
			tr := transitionClusters(labels, k, p)
			if len(tr) == 0 {
				return k
			}
			// Several at once on long recordings, where each pass is dear.
			n := max(1, min(len(tr), k-minK, (k-1)/p.dissolveDiv))
			for _, c := range tr[:n] {
				rs := runStats(labels, k)[c]
				debug("dissolve transition cluster", "k", k, "cluster", c, "runs", rs.runs, "median", rs.medianRun, "max", rs.maxRun, "sandwiched", rs.sandwiched)
				dissolve(labels, c)
			}
			k = compact(labels)
			continue
		}
		debug("merge", "k", k, "ratio", best, "frames", fmt.Sprintf("%.0f+%.0f", st[bi].n, st[bj].n))
		for t, l := range labels {
			if l == bj {
				labels[t] = bi
			}
		}
		k = compact(labels)
	}
}

// pairDistance compares two clusters' full-covariance Gaussians. ratio is
// the generalised likelihood ratio of "two Gaussians" against "one" over
// the BIC penalty (ΔBIC with λ = 1 is ratio − 1): is the difference
// significant? div is the ratio less the penalty per effective frame (the
// harmonic mean of the sizes): is it large? Two clusters of one speaker
// always differ significantly once they are large (content, intonation),
// but by less per frame than two voices do; two small clusters of
// different voices differ by a lot per frame, but not always
// significantly. A pair merges when either says "alike" (refine).
func pairDistance(x, y *gaussStats) (ratio, div float64) {
	glr := 0.5 * ((x.n+y.n)*x.logDet(y) - x.n*x.logDet(nil) - y.n*y.logDet(nil))
	pen := 0.5 * (numCeps + 0.5*numCeps*(numCeps+1)) * math.Log(x.n+y.n)
	nh := x.n * y.n / (x.n + y.n)
	return glr / pen, (glr - pen) / nh
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

// dissolve gives the frames of cluster c to the previous speaker in time
// (the next one for a leading run); the next resegmentation decides.
func dissolve(labels []int, c int) {
	prev := -1
	for t, l := range labels {
		switch {
		case l == c:
			labels[t] = prev
			if prev < 0 {
				labels[t] = -2
			}
		case l >= 0:
			prev = l
		}
	}
	next := -1
	for t := len(labels) - 1; t >= 0; t-- {
		switch {
		case labels[t] == -2:
			labels[t] = max(next, 0)
		case labels[t] >= 0:
			next = labels[t]
		}
	}
}

type clusterRuns struct {
	frames, runs, maxRun, medianRun, sandwiched int
	lens                                        []int
}

// runStats describes the runs (turns) of each cluster: how many, the
// longest, and how many are squeezed between two other speakers with no
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
		c.lens = append(c.lens, r.end-r.start)
		before := i > 0 && runs[i-1].lab != r.lab && r.start-runs[i-1].end < 30
		after := i+1 < len(runs) && runs[i+1].lab != r.lab && runs[i+1].start-r.end < 30
		if before && after {
			c.sandwiched++
		}
	}
	for i := range out {
		if l := out[i].lens; len(l) > 0 {
			slices.Sort(l)
			out[i].medianRun = l[len(l)/2]
		}
	}
	return out
}

// transitionClusters lists the clusters that look like overlapped speech
// or turn transitions rather than a speaker: no turn of p.minTurnFrames,
// or less speech than p.transitionShare of an average cluster, in short
// turns (median under p.transitionRun: the interruptions of the
// meetings here overlap by 0.3–0.9 s) of which at least p.sandwichFrac
// (three or more) are squeezed between two other speakers without a
// pause. Most squeezed first. The median matters in meetings of many
// people who interrupt each other: there most turns of a real speaker
// are squeezed too, but they are long.
func transitionClusters(labels []int, k int, p *params) []int {
	rs := runStats(labels, k)
	frac := func(c int) float64 { return float64(rs[c].sandwiched) / float64(max(1, rs[c].runs)) }
	total := 0
	for _, r := range rs {
		total += r.frames
	}
	var out []int
	for c, r := range rs {
		small := float64(r.frames) < p.transitionShare*float64(total)/float64(k)
		if r.maxRun < p.minTurnFrames || small && r.runs >= 3 && frac(c) >= p.sandwichFrac && r.medianRun < p.transitionRun {
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
