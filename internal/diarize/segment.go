package diarize

import "math"

// Speaker change detection: inside each speech region, the generalised
// likelihood ratio between one diagonal Gaussian over a 2W-frame window
// and two Gaussians over its halves, per frame; local maxima above
// p.changeThreshold are change points.

// segments splits speech regions at detected speaker changes.
func segments(a *analysis, speech []span, p *params) []span {
	var out []span
	for _, s := range speech {
		for _, c := range changes(a, s, p) {
			out = append(out, c)
		}
	}
	return out
}

func changes(a *analysis, s span, p *params) []span {
	n := s.len()
	if n < 2*p.minChangeWin {
		return []span{s}
	}
	// Prefix sums of x and x² per dimension.
	cs := make([]float64, (n+1)*numCeps)
	cq := make([]float64, (n+1)*numCeps)
	for t := range n {
		r := a.row(s.start + t)
		for d := range numCeps {
			v := float64(r[d])
			cs[(t+1)*numCeps+d] = cs[t*numCeps+d] + v
			cq[(t+1)*numCeps+d] = cq[t*numCeps+d] + v*v
		}
	}
	logVar := func(i, j int) float64 { // Σ_d log σ²_d over frames [i, j)
		m := float64(j - i)
		s := 0.0
		for d := range numCeps {
			mu := (cs[j*numCeps+d] - cs[i*numCeps+d]) / m
			v := (cq[j*numCeps+d]-cq[i*numCeps+d])/m - mu*mu
			s += math.Log(max(v, 1e-4))
		}
		return s
	}
	type cand struct {
		t int
		g float64
	}
	var cands []cand
	for t := p.minChangeWin; t <= n-p.minChangeWin; t += p.changeStep {
		w := min(p.changeWin, t, n-t)
		g := 0.5 * (2*logVar(t-w, t+w) - logVar(t-w, t) - logVar(t, t+w))
		cands = append(cands, cand{t, g})
	}
	var cuts []int
	for i, c := range cands {
		if c.g < p.changeThreshold {
			continue
		}
		peak := true
		for j := i - 1; j >= 0 && cands[j].t > c.t-p.changeWin/2; j-- {
			if cands[j].g >= c.g {
				peak = false
			}
		}
		for j := i + 1; j < len(cands) && cands[j].t < c.t+p.changeWin/2; j++ {
			if cands[j].g > c.g {
				peak = false
			}
		}
		if peak {
			cuts = append(cuts, s.start+c.t)
		}
	}
	var out []span
	prev := s.start
	for _, c := range cuts {
		out = append(out, span{prev, c})
		prev = c
	}
	return append(out, span{prev, s.end})
}
