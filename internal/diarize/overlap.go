package diarize

import (
	"math"
	"slices"
)

// Overlapped speech: a second speaker over the frames where two people
// talk at once. The speaker models describe one voice per frame, so an
// overlapped frame goes to whichever voice dominates it; a frame
// classifier (a logistic regression over 0.2 s statistics, overlapModel,
// trained on the generated tuning meetings by TestOverlapFeasibility)
// finds the likeliest overlapped stretches, and each gets as its second
// speaker the one across the nearest change of speaker — overlaps are
// where one person starts before the other has finished, or says "yes"
// in the middle of the other's turn. docs/diarization.md ("Overlap") has
// the measurements.

// overlapContext is the half-width (frames) of the statistics' window.
const overlapContext = 10

// overlapMinRun is the shortest stretch (frames) labelled overlapped.
const overlapMinRun = 5

// overlapReach is how far (frames) from a change of speaker an
// overlapped stretch may lie and take the speaker across it.
const overlapReach = 200

// overlapFrames is what secondSpeakers decides from.
type overlapFrames struct {
	labels []int
	scored []bool    // the frame has features (far enough inside its region)
	score  []float32 // the classifier's score of each scored frame
	other  []int     // the speaker across the nearest change (−1: none)
	dist   []int     // frames to that change
}

// overlapFeatures computes, for each speech frame at least
// overlapContext frames inside its region, the classifier's features:
// over the ±0.1 s around it, the level (c0) against the recording's and
// against its labelled speaker's median, the level's spread, how much
// better its speaker's model fits than the next one, how well it fits
// against the background model (raw and against the speaker's median),
// the level of the frame itself, the distance to the nearest change of
// speaker, the level against the speaker across that change, and each
// cepstrum's mean and spread. each receives them (in a buffer it must not
// keep); with a model, each frame's score is kept too.
func overlapFeatures(a *analysis, sc *scorer, speech []span, labels []int, k int, relevance float64, m *logisticModel, each func(t int, x []float64)) *overlapFrames {
	of := &overlapFrames{labels: labels, scored: make([]bool, a.n), score: make([]float32, a.n), other: make([]int, a.n), dist: make([]int, a.n)}
	for i := range of.other {
		of.other[i], of.dist[i] = -1, 1000
	}
	if k < 2 {
		return of
	}
	idx := make([][]int32, k)
	for t, l := range labels {
		if l >= 0 {
			idx[l] = append(idx[l], int32(t))
		}
	}
	models := make([][]float64, k)
	for c := range k {
		models[c] = sc.adapt(idx[c], relevance)
	}
	margin := make([]float64, a.n)
	fit := make([]float64, a.n)
	var levels []float64
	for _, s := range speech {
		for t := s.start; t < s.end; t++ {
			l := labels[t]
			own, next := sc.logLik(t, models[l]), math.Inf(-1)
			for c := range k {
				if c != l {
					next = max(next, sc.logLik(t, models[c]))
				}
			}
			margin[t] = own - next
			fit[t] = own - sc.logLik(t, sc.ubm.mean)
			levels = append(levels, float64(a.level[t]))
		}
	}
	median := func(x []float64) float64 {
		slices.Sort(x)
		return x[len(x)/2]
	}
	med := median(levels)
	spkLevel, spkFit := make([]float64, k), make([]float64, k)
	for c := range k {
		v, f := make([]float64, len(idx[c])), make([]float64, len(idx[c]))
		for i, t := range idx[c] {
			v[i], f[i] = float64(a.level[t]), fit[t]
		}
		spkLevel[c], spkFit[c] = median(v), median(f)
	}
	// The nearest change of speaker inside the region, and who is across.
	// (Frames without one keep other −1, dist 1000, set above.)
	dist := of.dist
	for _, s := range speech {
		var changes []int
		for t := s.start + 1; t < s.end; t++ {
			if labels[t] != labels[t-1] {
				changes = append(changes, t)
			}
		}
		if len(changes) == 0 {
			continue
		}
		j := 0
		for t := s.start; t < s.end; t++ {
			for j+1 < len(changes) && abs(changes[j+1]-t) <= abs(changes[j]-t) {
				j++
			}
			c := changes[j]
			dist[t] = abs(t - c)
			if t < c {
				of.other[t] = labels[c]
			} else {
				of.other[t] = labels[c-1]
			}
		}
	}
	const w = overlapContext
	n := float64(2*w + 1)
	x := make([]float64, 0, overlapFeatureCount)
	for _, s := range speech {
		for t := s.start + w; t < s.end-w; t++ {
			lvl, mm, mf, own := 0.0, 0.0, 0.0, 0.0
			for j := t - w; j <= t+w; j++ {
				lvl += float64(a.level[j]) - med
				mm += margin[j]
				mf += fit[j]
				own += float64(a.level[j]) - spkLevel[labels[j]]
			}
			lvl, mm, mf, own = lvl/n, mm/n, mf/n, own/n
			spread := 0.0
			for j := t - w; j <= t+w; j++ {
				d := float64(a.level[j]) - med - lvl
				spread += d * d
			}
			across := 0.0
			if of.other[t] >= 0 {
				across = lvl + med - spkLevel[of.other[t]]
			}
			x = append(x[:0], lvl, math.Sqrt(spread/n), mm, mf, float64(a.level[t])-med, own, mf-spkFit[labels[t]],
				math.Min(float64(dist[t]), 200)/100, math.Exp(-float64(dist[t])/30), across)
			for d := range numCeps {
				mu, sq := 0.0, 0.0
				for j := t - w; j <= t+w; j++ {
					v := float64(a.row(j)[d])
					mu += v
					sq += v * v
				}
				mu /= n
				x = append(x, mu, math.Sqrt(max(0, sq/n-mu*mu)))
			}
			of.scored[t] = true
			if m != nil {
				of.score[t] = float32(m.score(x))
			}
			if each != nil {
				each(t, x)
			}
		}
	}
	return of
}

// overlapFeatureCount is the length of a frame's features.
const overlapFeatureCount = 10 + 2*numCeps

// logisticModel scores features: w·((x − mean)/sd) + bias.
type logisticModel struct {
	mean, sd, w []float64
	bias        float64
	threshold   float64 // a frame scoring above is overlapped
}

func (m *logisticModel) score(x []float64) float64 {
	s := m.bias
	for i, v := range x {
		s += m.w[i] * (v - m.mean[i]) / m.sd[i]
	}
	return s
}

// secondSpeakers returns, for each frame, the second speaker the model
// finds there (−1: none): runs of at least overlapMinRun frames scoring
// above the threshold, each given the speaker across the nearest change
// when it is within overlapReach frames.
func secondSpeakers(of *overlapFrames, m *logisticModel) []int {
	second := make([]int, len(of.labels))
	for i := range second {
		second[i] = -1
	}
	over := func(t int) bool { return t < len(of.scored) && of.scored[t] && float64(of.score[t]) > m.threshold }
	for t := 0; t < len(of.scored); {
		if !over(t) {
			t++
			continue
		}
		e := t + 1
		for over(e) {
			e++
		}
		if e-t >= overlapMinRun {
			for u := t; u < e; u++ {
				if o := of.other[u]; o >= 0 && o != of.labels[u] && of.dist[u] <= overlapReach {
					second[u] = o
				}
			}
		}
		t = e
	}
	return second
}
