package diarize

import "math"

// The first clustering: agglomerative, over the segments of the change
// detection, each a full-covariance Gaussian, with the ΔBIC distance
// (Chen & Gopalakrishnan 1998). It only has to over-cluster cleanly: it is
// cut at initClusters clusters, more than any meeting here has speakers,
// and the refinement (refine.go) takes over from there.

// merge is one step of the dendrogram: items a and b (a < b; a keeps the
// union) were joined at ΔBIC d.
type merge struct {
	a, b int
	d    float64
}

type ahcCluster struct {
	st    gaussStats
	ld    float64 // log-det of st's covariance
	alive bool
}

// ahc clusters items bottom-up, merging at each step the pair with the
// lowest ΔBIC(λ), down to one cluster. Cost: n² log-determinants to start,
// n more per merge; memory n² distances, so callers keep n ≤ maxAHCItems.
func ahc(items []gaussStats, lambda float64) []merge {
	n := len(items)
	cl := make([]ahcCluster, n)
	for i := range items {
		cl[i] = ahcCluster{st: items[i], ld: items[i].logDet(nil), alive: true}
	}
	dist := func(i, j int) float64 {
		a, b := &cl[i].st, &cl[j].st
		nn := a.n + b.n
		glr := 0.5 * (nn*a.logDet(b) - a.n*cl[i].ld - b.n*cl[j].ld)
		return glr - lambda*0.5*(numCeps+0.5*numCeps*(numCeps+1))*math.Log(nn)
	}
	dm := make([]float64, n*n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			v := dist(i, j)
			dm[i*n+j], dm[j*n+i] = v, v
		}
	}
	// Each row's nearest live neighbour, updated after each merge.
	nn := make([]int, n)
	nd := make([]float64, n)
	rowMin := func(i int) {
		nn[i], nd[i] = -1, math.Inf(1)
		for j := range n {
			if j != i && cl[j].alive && dm[i*n+j] < nd[i] {
				nn[i], nd[i] = j, dm[i*n+j]
			}
		}
	}
	for i := range n {
		rowMin(i)
	}
	var merges []merge
	for len(merges) < n-1 {
		bi := -1
		for i := range n {
			if cl[i].alive && nn[i] >= 0 && (bi < 0 || nd[i] < nd[bi]) {
				bi = i
			}
		}
		if bi < 0 {
			break
		}
		a, b := min(bi, nn[bi]), max(bi, nn[bi])
		merges = append(merges, merge{a, b, nd[bi]})
		cl[a].st.merge(&cl[b].st)
		cl[a].ld = cl[a].st.logDet(nil)
		cl[b].alive = false
		for j := range n {
			if j != a && cl[j].alive {
				v := dist(a, j)
				dm[a*n+j], dm[j*n+a] = v, v
			}
		}
		for i := range n {
			if !cl[i].alive {
				continue
			}
			if i == a || nn[i] == a || nn[i] == b {
				rowMin(i)
			} else if dm[i*n+a] < nd[i] {
				nn[i], nd[i] = a, dm[i*n+a]
			}
		}
	}
	return merges
}

// cut applies the first n−k merges of the dendrogram over n items and
// returns each item's cluster label in 0..k−1 (numbered by first item).
func cut(n int, merges []merge, k int) []int {
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for _, m := range merges[:max(0, min(len(merges), n-k))] {
		parent[find(m.b)] = find(m.a)
	}
	lab := make([]int, n)
	ids := map[int]int{}
	for i := range n {
		r := find(i)
		id, ok := ids[r]
		if !ok {
			id = len(ids)
			ids[r] = id
		}
		lab[i] = id
	}
	return lab
}

// clusterItems labels items 0..k−1 by AHC cut at k clusters. With more
// than maxItems items (long recordings: about 5 minutes of speech per 400
// segments) the items are first clustered in consecutive chunks of
// maxItems down to k each, and the chunk clusters are clustered together:
// memory and time stay O(maxItems²) per chunk instead of O(n²).
func clusterItems(items []gaussStats, k, maxItems int, lambda float64) []int {
	n := len(items)
	if n <= maxItems {
		return cut(n, ahc(items, lambda), min(k, n))
	}
	var groups []gaussStats
	owner := make([]int, n) // item → group
	for lo := 0; lo < n; lo += maxItems {
		hi := min(n, lo+maxItems)
		lab := cut(hi-lo, ahc(items[lo:hi], lambda), min(k, hi-lo))
		base := len(groups)
		nl := 0
		for _, l := range lab {
			nl = max(nl, l+1)
		}
		groups = append(groups, make([]gaussStats, nl)...)
		for i, l := range lab {
			groups[base+l].merge(&items[lo+i])
			owner[lo+i] = base + l
		}
	}
	glab := clusterItems(groups, k, maxItems, lambda)
	out := make([]int, n)
	for i := range out {
		out[i] = glab[owner[i]]
	}
	return out
}
