package diarize

import "math"

// gaussStats are the sufficient statistics of a full-covariance Gaussian
// over numCeps-dimensional frames: count, sum and the upper triangle of the
// sum of outer products. Merging two segments adds their statistics, so an
// agglomerative clustering never revisits frames.
type gaussStats struct {
	n   float64
	sum [numCeps]float64
	sq  [numCeps * (numCeps + 1) / 2]float64
}

func (g *gaussStats) add(x []float32) {
	g.n++
	k := 0
	for i := range numCeps {
		xi := float64(x[i])
		g.sum[i] += xi
		for j := i; j < numCeps; j++ {
			g.sq[k] += xi * float64(x[j])
			k++
		}
	}
}

func (g *gaussStats) merge(o *gaussStats) {
	g.n += o.n
	for i := range g.sum {
		g.sum[i] += o.sum[i]
	}
	for i := range g.sq {
		g.sq[i] += o.sq[i]
	}
}

// covRidge is added to the covariance diagonal before the determinant: the
// features are variance-normalised to 1 per dimension, so 0.01 is 1 % of a
// dimension's spread and keeps the 0.5–1 s segments (50–100 frames for 190
// covariance parameters) from being singular.
const covRidge = 0.01

// logDet returns log |Σ| of the maximum-likelihood covariance of g (with
// the ridge), or of the union of g and o when o is not nil.
func (g *gaussStats) logDet(o *gaussStats) float64 {
	n := g.n
	var mean [numCeps]float64
	var c [numCeps * numCeps]float64
	if o != nil {
		n += o.n
	}
	for i := range numCeps {
		s := g.sum[i]
		if o != nil {
			s += o.sum[i]
		}
		mean[i] = s / n
	}
	k := 0
	for i := range numCeps {
		for j := i; j < numCeps; j++ {
			s := g.sq[k]
			if o != nil {
				s += o.sq[k]
			}
			v := s/n - mean[i]*mean[j]
			c[i*numCeps+j] = v
			c[j*numCeps+i] = v
			k++
		}
		c[i*numCeps+i] += covRidge
	}
	return choleskyLogDet(c[:], numCeps)
}

// choleskyLogDet returns log det of the symmetric positive-definite d×d
// matrix a (overwritten). A non-positive pivot (numerically singular
// matrix) is clamped to a tiny value rather than failing: a degenerate
// segment then simply looks very compact.
func choleskyLogDet(a []float64, d int) float64 {
	ld := 0.0
	for j := range d {
		s := a[j*d+j]
		for k := range j {
			s -= a[j*d+k] * a[j*d+k]
		}
		if s < 1e-12 {
			s = 1e-12
		}
		l := math.Sqrt(s)
		a[j*d+j] = l
		ld += 2 * math.Log(l)
		for i := j + 1; i < d; i++ {
			t := a[i*d+j]
			for k := range j {
				t -= a[i*d+k] * a[j*d+k]
			}
			a[i*d+j] = t / l
		}
	}
	return ld
}
