package diarize

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"testing"
)

// TestOverlapFeasibility is a diagnostic, not a check, like TestMergeTrace:
// could a frame classifier tell overlapped speech (two or more reference
// speakers) from one speaker, well enough to label second speakers? It
// runs only when PARLEY_DIARIZE_OVERLAP_TRAIN lists generated-set
// directories (as bench-diarize caches them); it diarizes those and the
// meetings of PARLEY_DIARIZE_OVERLAP_TEST (plus the dev set), computes
// per speech frame 0.2 s statistics (level against the recording's and
// against the labelled speaker's median, its spread, the cepstra's means
// and spreads, how well the labelled speaker's model fits and by how much
// it beats the next one, the distance to the nearest change of label and
// the level against the speaker across it), fits a logistic regression on
// the training frames (overlapped ones weighted up to balance) and prints,
// per test meeting, the area under the ROC curve and the precision and
// recall of the 1, 2 and 5 % of frames it scores highest.
// docs/diarization.md ("Overlap") cites it.
//
//	C=$HOME/.cache/parley/diarize-bench PARLEY_DIARIZE_OVERLAP_TRAIN=$C/tune PARLEY_DIARIZE_OVERLAP_TEST=$C/held-out go test -run TestOverlapFeasibility -v ./internal/diarize
func TestOverlapFeasibility(t *testing.T) {
	tr, te := os.Getenv("PARLEY_DIARIZE_OVERLAP_TRAIN"), os.Getenv("PARLEY_DIARIZE_OVERLAP_TEST")
	if tr == "" {
		t.Skip("diagnostic: set PARLEY_DIARIZE_OVERLAP_TRAIN to generated-set directories")
	}
	var train, test []ovSample
	for _, m := range traceMeetings(t, tr, false, "") {
		train = append(train, ovFeatures(t, m)...)
	}
	for _, m := range traceMeetings(t, te, true, "") {
		test = append(test, ovFeatures(t, m)...)
	}
	w, score := fitLogistic(train)
	report := func(name string, ss []ovSample) {
		var sp, sn []float64
		for _, s := range ss {
			if s.y {
				sp = append(sp, score(s.x))
			} else {
				sn = append(sn, score(s.x))
			}
		}
		if len(sp) == 0 || len(sn) == 0 {
			return
		}
		sort.Float64s(sn)
		auc := 0.0
		for _, v := range sp {
			auc += float64(sort.SearchFloat64s(sn, v)) / float64(len(sn))
		}
		all := append(slices.Clone(sp), sn...)
		sort.Float64s(all)
		fmt.Printf("%-20s overlapped %6d single %7d AUC %.3f", name, len(sp), len(sn), auc/float64(len(sp)))
		for _, q := range []float64{0.99, 0.98, 0.95} {
			th := all[int(q*float64(len(all)-1))]
			tp, fp := 0, 0
			for _, v := range sp {
				if v > th {
					tp++
				}
			}
			for _, v := range sn {
				if v > th {
					fp++
				}
			}
			fmt.Printf(" | top %.0f %%: precision %.2f recall %.2f", 100*(1-q), float64(tp)/float64(max(1, tp+fp)), float64(tp)/float64(len(sp)))
		}
		fmt.Println()
	}
	report("training", train)
	groups := map[string][]ovSample{}
	for _, s := range test {
		groups[s.group] = append(groups[s.group], s)
	}
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		report(k, groups[k])
	}
	report("test", test)
	fmt.Println("weights", w)
}

// ovSample is one speech frame's statistics and whether two or more
// reference speakers talk in it.
type ovSample struct {
	x     []float64
	y     bool
	group string
}

func ovFeatures(t *testing.T, m traceMeeting) []ovSample {
	a, speech, _, _ := m.analyse(t)
	ref := referenceSets(t, m.rttm, a.n)
	labels, k, sc, err := speakerFrames(context.Background(), a, speech, Options{}, &defaultParams)
	if err != nil {
		t.Fatal(err)
	}
	idx := make([][]int32, k)
	for t, l := range labels {
		if l >= 0 {
			idx[l] = append(idx[l], int32(t))
		}
	}
	models := make([][]float64, k)
	for c := range k {
		models[c] = sc.adapt(idx[c], defaultParams.relevance)
	}
	margin := make([]float64, a.n)
	fit := make([]float64, a.n)
	var lv []float64
	for _, s := range speech {
		for t := s.start; t < s.end; t++ {
			l := labels[t]
			own := sc.logLik(t, models[l])
			other := math.Inf(-1)
			for c := range k {
				if c != l {
					other = max(other, sc.logLik(t, models[c]))
				}
			}
			if k < 2 {
				other = own
			}
			margin[t] = own - other
			fit[t] = own - sc.logLik(t, sc.ubm.mean)
			lv = append(lv, float64(a.level[t]))
		}
	}
	slices.Sort(lv)
	med := lv[len(lv)/2]
	cmed := make([]float64, k)
	cfit := make([]float64, k)
	for c := range k {
		var v, f []float64
		for _, t := range idx[c] {
			v = append(v, float64(a.level[t]))
			f = append(f, fit[t])
		}
		slices.Sort(v)
		slices.Sort(f)
		cmed[c] = v[len(v)/2]
		cfit[c] = f[len(f)/2]
	}
	// Distance to the nearest change of label inside a speech region, and
	// the speaker on the other side of it.
	dist := make([]int, a.n)
	other := make([]int, a.n)
	for i := range dist {
		dist[i], other[i] = 1000, -1
	}
	for _, s := range speech {
		var changes []int
		for t := s.start + 1; t < s.end; t++ {
			if labels[t] != labels[t-1] {
				changes = append(changes, t)
			}
		}
		for t := s.start; t < s.end; t++ {
			for _, c := range changes {
				if d := abs(t - c); d < dist[t] {
					dist[t] = d
					if t < c {
						other[t] = labels[c]
					} else {
						other[t] = labels[c-1]
					}
				}
			}
		}
	}
	var out []ovSample
	const w = 10
	for _, s := range speech {
		for t := s.start + w; t < s.end-w; t++ {
			n := bits.OnesCount64(ref[t])
			if n == 0 {
				continue
			}
			var x []float64
			mc0, sc0, mm, mf := 0.0, 0.0, 0.0, 0.0
			for j := t - w; j <= t+w; j++ {
				mc0 += float64(a.level[j]) - med
				mm += margin[j]
				mf += fit[j]
			}
			mc0 /= 2*w + 1
			for j := t - w; j <= t+w; j++ {
				d := float64(a.level[j]) - med - mc0
				sc0 += d * d
			}
			own := 0.0
			for j := t - w; j <= t+w; j++ {
				own += float64(a.level[j]) - cmed[labels[j]]
			}
			oth := 0.0
			if other[t] >= 0 {
				oth = mc0 + med - cmed[other[t]]
			}
			x = append(x, mc0, math.Sqrt(sc0/(2*w+1)), mm/(2*w+1), mf/(2*w+1), float64(a.level[t])-med, own/(2*w+1), mf/(2*w+1)-cfit[labels[t]],
				math.Min(float64(dist[t]), 200)/100, math.Exp(-float64(dist[t])/30), oth)
			for d := range numCeps {
				mu, sq := 0.0, 0.0
				for j := t - w; j <= t+w; j++ {
					v := float64(a.row(j)[d])
					mu += v
					sq += v * v
				}
				mu /= 2*w + 1
				x = append(x, mu, math.Sqrt(max(0, sq/(2*w+1)-mu*mu)))
			}
			out = append(out, ovSample{x, n >= 2, m.id})
		}
	}
	return out
}

// fitLogistic fits a logistic regression to the samples (the single
// ones subsampled to three per overlapped one, the overlapped weighted up
// to balance; features standardised; Adam, 400 passes) and returns its
// weights and its score function.
func fitLogistic(train []ovSample) ([]float64, func([]float64) float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tr2 []ovSample
	pos := 0
	for _, s := range train {
		if s.y {
			pos++
		}
	}
	keep := float64(3*pos) / float64(len(train)-pos)
	for _, s := range train {
		if s.y || rng.Float64() < keep {
			tr2 = append(tr2, s)
		}
	}
	d := len(tr2[0].x)
	mu, sd := make([]float64, d), make([]float64, d)
	for _, s := range tr2 {
		for i, v := range s.x {
			mu[i] += v
			sd[i] += v * v
		}
	}
	for i := range d {
		mu[i] /= float64(len(tr2))
		sd[i] = math.Sqrt(sd[i]/float64(len(tr2))-mu[i]*mu[i]) + 1e-9
	}
	z := func(x []float64) []float64 {
		o := make([]float64, d)
		for i, v := range x {
			o[i] = (v - mu[i]) / sd[i]
		}
		return o
	}
	X := make([][]float64, len(tr2))
	for i, s := range tr2 {
		X[i] = z(s.x)
	}
	wt := make([]float64, d+1)
	pw := float64(len(tr2)-pos) / float64(pos)
	m1, m2 := make([]float64, d+1), make([]float64, d+1)
	for it := range 400 {
		g := make([]float64, d+1)
		for i, x := range X {
			s := wt[d]
			for j, v := range x {
				s += wt[j] * v
			}
			p := 1 / (1 + math.Exp(-s))
			y, cw := 0.0, 1.0
			if tr2[i].y {
				y, cw = 1, pw
			}
			e := cw * (p - y)
			for j, v := range x {
				g[j] += e * v
			}
			g[d] += e
		}
		for j := range g {
			g[j] = g[j]/float64(len(X)) + 1e-3*wt[j]
			m1[j] = 0.9*m1[j] + 0.1*g[j]
			m2[j] = 0.999*m2[j] + 0.001*g[j]*g[j]
			bc1, bc2 := 1-math.Pow(0.9, float64(it+1)), 1-math.Pow(0.999, float64(it+1))
			wt[j] -= 0.05 * (m1[j] / bc1) / (math.Sqrt(m2[j]/bc2) + 1e-8)
		}
	}
	score := func(x []float64) float64 {
		zz := z(x)
		s := wt[d]
		for j, v := range zz {
			s += wt[j] * v
		}
		return s
	}
	return wt, score
}

// referenceSets reads an RTTM file into the set of speakers (a bit each,
// by order of first appearance) talking in each 10 ms frame.
func referenceSets(t *testing.T, path string, n int) []uint64 {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := ReadRTTM(f)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	ref := make([]uint64, n)
	for _, r := range recs {
		if _, ok := ids[r.Speaker]; !ok {
			ids[r.Speaker] = len(ids)
		}
		for t := int(r.Start * frameRate); t < int(r.End*frameRate) && t < n; t++ {
			ref[t] |= 1 << ids[r.Speaker]
		}
	}
	return ref
}
