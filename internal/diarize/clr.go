package diarize

import "math"

// Cluster merging by cross-likelihood ratio (CLR, Reynolds et al. 1998;
// Barras et al. 2006) between speaker GMMs MAP-adapted from the background
// model. Everything is computed from Baum–Welch statistics (per component:
// the posterior count N and the posterior-weighted sum F of frames), with
// the linear approximation of the log-likelihood ratio (Glembek et al.
// 2009): merging two clusters only adds their statistics, and scoring a
// pair costs C·D operations instead of a pass over the frames.

// bwStats are zeroth- and first-order statistics against a UBM.
type bwStats struct {
	n []float64 // C
	f []float64 // C × D
}

func newBWStats(c, d int) bwStats {
	return bwStats{n: make([]float64, c), f: make([]float64, c*d)}
}

func (s *bwStats) total() float64 {
	t := 0.0
	for _, v := range s.n {
		t += v
	}
	return t
}

func (s *bwStats) add(o *bwStats) {
	for i, v := range o.n {
		s.n[i] += v
	}
	for i, v := range o.f {
		s.f[i] += v
	}
}

// accumulate adds frame x with the UBM posteriors post (log domain,
// normaliser ll) to s.
func (s *bwStats) accumulate(x []float32, post []float64, ll float64, dim int) {
	for c, lp := range post {
		p := math.Exp(lp - ll)
		if p < 1e-4 {
			continue
		}
		s.n[c] += p
		f := s.f[c*dim : (c+1)*dim]
		for d, v := range x {
			f[d] += p * float64(v)
		}
	}
}

// offsets returns the MAP mean offsets μ̂ − μ of the model adapted to s,
// scaled by the UBM's inverse standard deviations so that scoring is a
// dot product.
func (ubm *gmm) offsets(s *bwStats, r float64) []float64 {
	dim := ubm.dim
	o := make([]float64, len(s.f))
	for c, n := range s.n {
		if n == 0 {
			continue
		}
		a := 1 / (n + r)
		for d := range dim {
			i := c*dim + d
			// (F + rμ)/(N + r) − μ = (F − Nμ)/(N + r)
			o[i] = a * (s.f[i] - n*ubm.mean[i])
		}
	}
	return o
}

// linearLLR approximates log p(data | model) − log p(data | UBM) for data
// with statistics s and a model with mean offsets off.
func (ubm *gmm) linearLLR(s *bwStats, off []float64) float64 {
	dim := ubm.dim
	l := 0.0
	for c, n := range s.n {
		if n == 0 {
			continue
		}
		for d := range dim {
			i := c*dim + d
			m := off[i]
			l += ubm.ivar[i] * m * ((s.f[i] - n*ubm.mean[i]) - 0.5*n*m)
		}
	}
	return l
}

// clrMerge is one step of the CLR clustering: clusters a and b joined at
// CLR value clr (higher = more alike).
type clrMerge struct {
	a, b int
	clr  float64
}

// clrCluster merges clusters bottom-up by highest CLR and returns the
// merge sequence over all clusters.
func clrCluster(ubm *gmm, stats []bwStats, r float64) []clrMerge {
	n := len(stats)
	st := make([]bwStats, n)
	off := make([][]float64, n)
	tot := make([]float64, n)
	alive := make([]bool, n)
	for i := range stats {
		st[i] = newBWStats(ubm.k(), ubm.dim)
		st[i].add(&stats[i])
		off[i] = ubm.offsets(&st[i], r)
		tot[i] = max(st[i].total(), 1)
		alive[i] = true
	}
	clr := func(i, j int) float64 {
		return ubm.linearLLR(&st[i], off[j])/tot[i] + ubm.linearLLR(&st[j], off[i])/tot[j]
	}
	cm := make([]float64, n*n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			v := clr(i, j)
			cm[i*n+j], cm[j*n+i] = v, v
		}
	}
	var merges []clrMerge
	for len(merges) < n-1 {
		bi, bj, best := -1, -1, math.Inf(-1)
		for i := range n {
			if !alive[i] {
				continue
			}
			for j := i + 1; j < n; j++ {
				if alive[j] && cm[i*n+j] > best {
					bi, bj, best = i, j, cm[i*n+j]
				}
			}
		}
		if bi < 0 {
			break
		}
		merges = append(merges, clrMerge{bi, bj, best})
		st[bi].add(&st[bj])
		off[bi] = ubm.offsets(&st[bi], r)
		tot[bi] = max(st[bi].total(), 1)
		alive[bj] = false
		for j := range n {
			if alive[j] && j != bi {
				v := clr(bi, j)
				cm[bi*n+j], cm[j*n+bi] = v, v
			}
		}
	}
	return merges
}

// clrClusterExact is clrCluster with log-likelihoods computed on the
// frames instead of the linear approximation.
func clrClusterExact(a *analysis, ubm *gmm, labels []int, k int, r float64) []clrMerge {
	idx := make([][]int32, k)
	for t, l := range labels {
		if l >= 0 {
			idx[l] = append(idx[l], int32(t))
		}
	}
	scratch := make([]float64, ubm.k())
	models := make([]*gmm, k)
	alive := make([]bool, k)
	ubmLL := make([]float64, k)
	for c := range k {
		if len(idx[c]) == 0 {
			continue
		}
		alive[c] = true
		models[c] = mapAdapt(ubm, a.feats, idx[c], r)
		for _, t := range idx[c] {
			ubmLL[c] += ubm.logLik(a.row(int(t)), scratch)
		}
	}
	// s[i*k+j] = Σ_{x∈i} log p(x | M_j)
	s := make([]float64, k*k)
	scoreRow := func(j int) { // model j on every cluster
		for i := range k {
			if !alive[i] {
				continue
			}
			v := 0.0
			for _, t := range idx[i] {
				v += models[j].logLik(a.row(int(t)), scratch)
			}
			s[i*k+j] = v
		}
	}
	scoreCol := func(i int) { // cluster i under every model
		for j := range k {
			if !alive[j] {
				continue
			}
			v := 0.0
			for _, t := range idx[i] {
				v += models[j].logLik(a.row(int(t)), scratch)
			}
			s[i*k+j] = v
		}
	}
	for j := range k {
		if alive[j] {
			scoreRow(j)
		}
	}
	clr := func(i, j int) float64 {
		return (s[i*k+j]-ubmLL[i])/float64(len(idx[i])) + (s[j*k+i]-ubmLL[j])/float64(len(idx[j]))
	}
	var merges []clrMerge
	for {
		bi, bj, best := -1, -1, math.Inf(-1)
		for i := range k {
			for j := i + 1; j < k; j++ {
				if alive[i] && alive[j] {
					if v := clr(i, j); v > best {
						bi, bj, best = i, j, v
					}
				}
			}
		}
		if bi < 0 {
			return merges
		}
		merges = append(merges, clrMerge{bi, bj, best})
		idx[bi] = append(idx[bi], idx[bj]...)
		ubmLL[bi] += ubmLL[bj]
		alive[bj] = false
		models[bi] = mapAdapt(ubm, a.feats, idx[bi], r)
		scoreRow(bi)
		scoreCol(bi)
	}
}
