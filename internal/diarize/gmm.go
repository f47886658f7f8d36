package diarize

import (
	"math"
	"math/rand/v2"
)

// gmm is a diagonal-covariance Gaussian mixture over dim-dimensional frames.
type gmm struct {
	dim    int
	w      []float64 // weights
	mean   []float64 // k*dim
	ivar   []float64 // k*dim inverse variances
	lconst []float64 // log w − ½ Σ log(2π σ²)
}

// varFloor keeps a component from collapsing on a few identical frames; the
// features have unit variance per dimension, so 0.01 is 1 % of it.
const varFloor = 0.01

func newGMM(k, dim int) *gmm {
	return &gmm{
		dim: dim, w: make([]float64, k), mean: make([]float64, k*dim),
		ivar: make([]float64, k*dim), lconst: make([]float64, k),
	}
}

func (g *gmm) k() int { return len(g.w) }

func (g *gmm) update() {
	for c := range g.w {
		s := math.Log(max(g.w[c], 1e-10))
		for d := range g.dim {
			s += 0.5 * (math.Log(g.ivar[c*g.dim+d]) - math.Log(2*math.Pi))
		}
		g.lconst[c] = s
	}
}

// compLogLik fills out[c] with log(w_c N(x; μ_c, Σ_c)) and returns the
// log-sum-exp over components.
func (g *gmm) compLogLik(x []float32, out []float64) float64 {
	best := math.Inf(-1)
	for c := range g.w {
		m := g.mean[c*g.dim : (c+1)*g.dim]
		iv := g.ivar[c*g.dim : (c+1)*g.dim]
		s := 0.0
		for d, v := range x[:g.dim] {
			e := float64(v) - m[d]
			s += e * e * iv[d]
		}
		l := g.lconst[c] - 0.5*s
		out[c] = l
		best = max(best, l)
	}
	sum := 0.0
	for _, l := range out[:len(g.w)] {
		sum += math.Exp(l - best)
	}
	return best + math.Log(sum)
}

// trainGMM fits a k-component GMM to the frames listed in idx (rows of
// feats, each dim wide) with EM, starting from k frames drawn with a fixed
// seed so that results are reproducible. With fewer frames than components
// it returns fewer components.
func trainGMM(feats []float32, dim int, idx []int32, k, iters int, seed uint64) *gmm {
	if len(idx) == 0 {
		return nil
	}
	k = min(k, max(1, len(idx)/(2*dim)))
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	g := newGMM(k, dim)
	// Global variance for initialisation.
	var mu, va = make([]float64, dim), make([]float64, dim)
	for _, t := range idx {
		for d := range dim {
			mu[d] += float64(feats[int(t)*dim+d])
		}
	}
	for d := range mu {
		mu[d] /= float64(len(idx))
	}
	for _, t := range idx {
		for d := range dim {
			e := float64(feats[int(t)*dim+d]) - mu[d]
			va[d] += e * e
		}
	}
	for c := range k {
		t := idx[rng.IntN(len(idx))]
		g.w[c] = 1 / float64(k)
		for d := range dim {
			g.mean[c*dim+d] = float64(feats[int(t)*dim+d])
			g.ivar[c*dim+d] = 1 / max(va[d]/float64(len(idx)), varFloor)
		}
	}
	g.update()
	g.em(feats, idx, iters, rng)
	return g
}

// em runs iters EM iterations of g on the frames idx, from g's current
// parameters. It returns the log-likelihood of the frames under the model
// of the last E step.
func (g *gmm) em(feats []float32, idx []int32, iters int, rng *rand.Rand) float64 {
	k, dim := g.k(), g.dim
	post := make([]float64, k)
	n := make([]float64, k)
	s1 := make([]float64, k*dim)
	s2 := make([]float64, k*dim)
	total := 0.0
	for range iters {
		clear(n)
		clear(s1)
		clear(s2)
		total = 0
		for _, t := range idx {
			x := feats[int(t)*dim : int(t+1)*dim]
			ll := g.compLogLik(x, post)
			total += ll
			for c := range k {
				p := math.Exp(post[c] - ll)
				if p < 1e-6 {
					continue
				}
				n[c] += p
				for d, v := range x {
					fv := float64(v)
					s1[c*dim+d] += p * fv
					s2[c*dim+d] += p * fv * fv
				}
			}
		}
		for c := range k {
			if n[c] < 1 {
				// Dead component: restart it on a random frame.
				t := idx[rng.IntN(len(idx))]
				for d := range dim {
					g.mean[c*dim+d] = float64(feats[int(t)*dim+d])
				}
				g.w[c] = 1 / float64(len(idx))
				continue
			}
			g.w[c] = n[c] / float64(len(idx))
			for d := range dim {
				m := s1[c*dim+d] / n[c]
				v := s2[c*dim+d]/n[c] - m*m
				g.mean[c*dim+d] = m
				g.ivar[c*dim+d] = 1 / max(v, varFloor)
			}
		}
		g.update()
	}
	return total
}
