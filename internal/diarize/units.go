package diarize

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Unit-level clustering. Speech segments are cut into units of 1–2 s and
// each unit is represented by the mean of its cepstra: averaging over a
// second of speech keeps the long-term spectral envelope (vocal tract,
// voice source, channel) and averages out most of the phonetic content.
// Two clusters of units are compared with Hotelling's two-sample T²
// statistic, T² = n_h Δmᵀ W⁻¹ Δm, where W is the within-speaker
// covariance of unit means estimated from pairs of adjacent units of one
// segment (the same speaker with high probability, since the segmentation
// put no change between them). Under "same speaker" T² is approximately
// χ² with d degrees of freedom, which gives the merge threshold its scale.

// unitMinFrames is the shortest unit: 1 s.
const unitMinFrames = 100

type unit struct {
	seg        int
	start, end int
	mean       []float64
}

// makeUnits cuts the segments into units of unitMinFrames to
// 2·unitMinFrames frames; segments of at least half a unit give one unit.
func makeUnits(a *analysis, segs []span) []unit {
	var us []unit
	for si, s := range segs {
		n := s.len() / unitMinFrames
		if n == 0 {
			if s.len() < unitMinFrames/2 {
				continue
			}
			n = 1
		}
		for k := range n {
			u := unit{seg: si, start: s.start + k*s.len()/n, end: s.start + (k+1)*s.len()/n, mean: make([]float64, numCeps)}
			for t := u.start; t < u.end; t++ {
				for d, v := range a.row(t) {
					u.mean[d] += float64(v)
				}
			}
			for d := range u.mean {
				u.mean[d] /= float64(u.end - u.start)
			}
			us = append(us, u)
		}
	}
	return us
}

// withinCov estimates the within-speaker covariance of unit means from
// adjacent units of the same segment; with fewer than minPairs pairs it
// falls back to half the total covariance of the units.
func withinCov(us []unit, minPairs int) *mat.SymDense {
	w := mat.NewSymDense(numCeps, nil)
	pairs := 0
	for i := 1; i < len(us); i++ {
		if us[i].seg != us[i-1].seg {
			continue
		}
		for r := range numCeps {
			dr := us[i].mean[r] - us[i-1].mean[r]
			for c := r; c < numCeps; c++ {
				w.SetSym(r, c, w.At(r, c)+dr*(us[i].mean[c]-us[i-1].mean[c]))
			}
		}
		pairs++
	}
	if pairs >= minPairs {
		w.ScaleSym(0.5/float64(pairs), w)
	} else {
		mean := make([]float64, numCeps)
		for _, u := range us {
			for d, v := range u.mean {
				mean[d] += v / float64(len(us))
			}
		}
		w = mat.NewSymDense(numCeps, nil)
		for _, u := range us {
			for r := range numCeps {
				for c := r; c < numCeps; c++ {
					w.SetSym(r, c, w.At(r, c)+(u.mean[r]-mean[r])*(u.mean[c]-mean[c]))
				}
			}
		}
		w.ScaleSym(0.5/float64(max(1, len(us)-1)), w)
	}
	for d := range numCeps {
		w.SetSym(d, d, w.At(d, d)+1e-3)
	}
	return w
}

type t2Merge struct {
	a, b int
	t2   float64
}

// t2Cluster clusters units agglomeratively by Hotelling's T² with the
// within covariance w and returns the merge sequence (down to one cluster).
func t2Cluster(us []unit, w *mat.SymDense) []t2Merge {
	var chol mat.Cholesky
	if !chol.Factorize(w) {
		return nil
	}
	var winv mat.SymDense
	chol.InverseTo(&winv)
	n := len(us)
	cnt := make([]float64, n)
	sum := make([][]float64, n)
	alive := make([]bool, n)
	for i, u := range us {
		cnt[i] = 1
		sum[i] = append([]float64(nil), u.mean...)
		alive[i] = true
	}
	diff := make([]float64, numCeps)
	t2 := func(i, j int) float64 {
		for d := range numCeps {
			diff[d] = sum[i][d]/cnt[i] - sum[j][d]/cnt[j]
		}
		q := 0.0
		for r := range numCeps {
			s := 0.0
			for c := range numCeps {
				s += winv.At(r, c) * diff[c]
			}
			q += diff[r] * s
		}
		return cnt[i] * cnt[j] / (cnt[i] + cnt[j]) * q
	}
	dm := make([]float64, n*n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			dm[i*n+j] = t2(i, j)
		}
	}
	var merges []t2Merge
	for len(merges) < n-1 {
		bi, bj, best := -1, -1, math.Inf(1)
		for i := range n {
			if !alive[i] {
				continue
			}
			for j := i + 1; j < n; j++ {
				if alive[j] && dm[i*n+j] < best {
					bi, bj, best = i, j, dm[i*n+j]
				}
			}
		}
		merges = append(merges, t2Merge{bi, bj, best})
		cnt[bi] += cnt[bj]
		for d := range numCeps {
			sum[bi][d] += sum[bj][d]
		}
		alive[bj] = false
		for j := range n {
			if alive[j] && j != bi {
				v := t2(min(bi, j), max(bi, j))
				dm[min(bi, j)*n+max(bi, j)] = v
			}
		}
	}
	return merges
}

// unitClusters runs the T² clustering and labels the frames of the units;
// it returns the number of clusters chosen.
func unitClusters(a *analysis, segs []span, labels []int, opts Options, p *params) int {
	us := makeUnits(a, segs)
	if len(us) == 0 {
		return 0
	}
	w := withinCov(us, 2*numCeps)
	merges := t2Cluster(us, w)
	n := len(us)
	k := n
	for i, m := range merges {
		if m.t2 > p.t2Threshold {
			break
		}
		k = n - i - 1
	}
	if debugMerges {
		for i := max(0, len(merges)-8); i < len(merges); i++ {
			fmt.Printf("  t2 K=%d %.1f\n", n-i, merges[i].t2)
		}
	}
	k = clampCount(k, n, opts)
	pairs := make([][2]int, len(merges))
	for i, m := range merges {
		pairs[i] = [2]int{m.a, m.b}
	}
	lab := cutPairs(n, pairs, k)
	for i, u := range us {
		for t := u.start; t < u.end; t++ {
			labels[t] = lab[i]
		}
	}
	return k
}
