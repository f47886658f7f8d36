package diarize

import "math"

// Agglomerative clustering of segments with full-covariance Gaussians and
// the ΔBIC distance. The whole dendrogram is built (down to one cluster)
// so that a requested speaker count or range can be honoured by cutting it
// elsewhere than where the BIC stops.

// merge is one step of the dendrogram: clusters a and b (indices into the
// initial items, a < b: a keeps the union) were joined at cost d.
type merge struct {
	a, b   int
	d      float64
	glr    float64 // the likelihood-ratio part of d
	na, nb float64 // frames on each side
}

type ahcCluster struct {
	st    gaussStats
	ld    float64 // log-det of st's covariance
	alive bool
}

// ahc clusters the items bottom-up, merging at each step the pair with the
// lowest ΔBIC(λ). It returns the merges in order.
func ahc(items []gaussStats, lambda float64) []merge {
	n := len(items)
	cl := make([]ahcCluster, n)
	for i := range items {
		cl[i] = ahcCluster{st: items[i], ld: items[i].logDet(nil), alive: true}
	}
	dist := func(i, j int) float64 {
		a, b := &cl[i].st, &cl[j].st
		const d = numCeps
		nn := a.n + b.n
		glr := 0.5 * (nn*a.logDet(b) - a.n*cl[i].ld - b.n*cl[j].ld)
		return glr - lambda*0.5*(d+0.5*d*(d+1))*math.Log(nn)
	}
	// Full distance matrix plus each row's nearest neighbour (j > i is not
	// required: rows are symmetric, nn is over all live j ≠ i).
	dm := make([]float64, n*n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			v := dist(i, j)
			dm[i*n+j], dm[j*n+i] = v, v
		}
	}
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
	for step := 0; step < n-1; step++ {
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
		{
			x, y := &cl[a].st, &cl[b].st
			glr := 0.5 * ((x.n+y.n)*x.logDet(y) - x.n*cl[a].ld - y.n*cl[b].ld)
			merges = append(merges, merge{a: a, b: b, d: nd[bi], glr: glr, na: x.n, nb: y.n})
		}
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
	pairs := make([][2]int, len(merges))
	for i, m := range merges {
		pairs[i] = [2]int{m.a, m.b}
	}
	return cutPairs(n, pairs, k)
}

// cutPairs applies the first n−k of the merges (pairs of item indices,
// the first keeping the union) and labels the items 0..k−1.
func cutPairs(n int, merges [][2]int, k int) []int {
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for _, m := range merges[:max(0, min(len(merges), n-k))] {
		parent[find(m[1])] = find(m[0])
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

// bicCount is the number of clusters where the BIC stops merging: the
// number left when the first merge with a positive ΔBIC comes.
func bicCount(n int, merges []merge) int {
	for i, m := range merges {
		if m.d > 0 {
			return n - i
		}
	}
	return max(1, n-len(merges))
}
