package diarize

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/devset"
)

type expFile struct{ id, wav, rttm string }

func expFiles(t *testing.T, sets ...string) []expFile {
	var fs []expFile
	ms, _ := devset.Meetings()
	for _, m := range ms {
		fs = append(fs, expFile{m.ID, m.Mix, m.RTTM})
	}
	for _, set := range sets {
		ws, _ := filepath.Glob(filepath.Join("/tmp/dz", set, "audio", "*.wav"))
		for _, w := range ws {
			id := strings.TrimSuffix(filepath.Base(w), ".wav")
			fs = append(fs, expFile{id, w, filepath.Join("/tmp/dz", set, "rttm", id+".rttm")})
		}
	}
	return fs
}

// TestExpSeparability: reference single-speaker pieces (1–2 s), pairwise
// similarity measures, same- vs different-speaker distributions per file.
func TestExpSeparability(t *testing.T) {
	if os.Getenv("PARLEY_DIARIZE_EXP") == "" {
		t.Skip("experiment")
	}
	p := defaultParams
	for _, f := range expFiles(t, "tune") {
		x, _ := readWAV16(f.wav)
		a, _ := analyze(context.Background(), x)
		speech := voicedOnly(a, energySpeech(a, &p), &p)
		a.normalise(speech)
		ubm := trainUBM(a, speech, &p)
		fh, _ := os.Open(f.rttm)
		recs, _ := ReadRTTM(fh)
		fh.Close()
		cnt := make([]int, a.n)
		for _, r := range recs {
			for t := int(r.Start * 100); t < int(r.End*100) && t < a.n; t++ {
				cnt[t]++
			}
		}
		type piece struct {
			spk string
			g   gaussStats
			bw  bwStats
		}
		var ps []piece
		post := make([]float64, ubm.k())
		for _, r := range recs {
			s, e := int(r.Start*100), min(int(r.End*100), a.n)
			for s+100 <= e {
				l := min(200, e-s)
				if e-(s+l) < 100 {
					l = e - s
				}
				pc := piece{spk: r.Speaker, bw: newBWStats(ubm.k(), ubm.dim)}
				for t := s; t < s+l; t++ {
					if cnt[t] != 1 || a.energy[t] < -55 {
						continue
					}
					pc.g.add(a.row(t))
					ll := ubm.compLogLik(a.row(t), post)
					pc.bw.accumulate(a.row(t), post, ll, ubm.dim)
				}
				if pc.g.n >= 80 {
					ps = append(ps, pc)
				}
				s += l
			}
		}
		// supervectors
		sv := make([][]float64, len(ps))
		mean := make([]float64, ubm.k()*ubm.dim)
		for i := range ps {
			off := ubm.offsets(&ps[i].bw, p.relevance)
			for c := range ubm.k() {
				for d := range ubm.dim {
					off[c*ubm.dim+d] *= math.Sqrt(ubm.w[c] * ubm.ivar[c*ubm.dim+d])
				}
			}
			sv[i] = off
			for j, v := range off {
				mean[j] += v / float64(len(ps))
			}
		}
		cos := func(u, v []float64, sub bool) float64 {
			var uv, uu, vv float64
			for i := range u {
				a, b := u[i], v[i]
				if sub {
					a -= mean[i]
					b -= mean[i]
				}
				uv += a * b
				uu += a * a
				vv += b * b
			}
			return uv / math.Sqrt(uu*vv+1e-20)
		}
		names := []string{"bic glr/pen", "clr", "cos", "cos-mean"}
		same := make([][]float64, len(names))
		diff := make([][]float64, len(names))
		for i := range ps {
			for j := i + 1; j < len(ps); j++ {
				a, b := &ps[i], &ps[j]
				const d = numCeps
				nn := a.g.n + b.g.n
				glr := 0.5 * (nn*a.g.logDet(&b.g) - a.g.n*a.g.logDet(nil) - b.g.n*b.g.logDet(nil))
				pen := 0.5 * (d + 0.5*d*(d+1)) * math.Log(nn)
				oa, ob := ubm.offsets(&a.bw, p.relevance), ubm.offsets(&b.bw, p.relevance)
				clr := ubm.linearLLR(&a.bw, ob)/a.bw.total() + ubm.linearLLR(&b.bw, oa)/b.bw.total()
				v := []float64{-glr / pen, clr, cos(sv[i], sv[j], false), cos(sv[i], sv[j], true)}
				for k := range v {
					if a.spk == b.spk {
						same[k] = append(same[k], v[k])
					} else {
						diff[k] = append(diff[k], v[k])
					}
				}
			}
		}
		fmt.Printf("%s pieces %d\n", f.id, len(ps))
		for k, nm := range names {
			slices.Sort(same[k])
			slices.Sort(diff[k])
			q := func(s []float64, p float64) float64 { return s[int(p*float64(len(s)-1))] }
			// equal error rate
			eer := 1.0
			for _, th := range append(slices.Clone(same[k]), diff[k]...) {
				fr := float64(countBelow(same[k], th)) / float64(len(same[k]))
				fa := float64(len(diff[k])-countBelow(diff[k], th)) / float64(len(diff[k]))
				eer = min(eer, max(fr, fa))
			}
			fmt.Printf("  %-12s same p5 %7.3f p50 %7.3f | diff p50 %7.3f p95 %7.3f p99 %7.3f | EER %.3f\n", nm, q(same[k], .05), q(same[k], .5), q(diff[k], .5), q(diff[k], .95), q(diff[k], .99), eer)
		}
	}
}

func countBelow(s []float64, th float64) int {
	n := 0
	for _, v := range s {
		if v < th {
			n++
		}
	}
	return n
}

func TestExpSegPurity(t *testing.T) {
	if os.Getenv("PARLEY_DIARIZE_EXP") == "" {
		t.Skip("experiment")
	}
	p := expParams(t)
	for _, f := range expFiles(t, "tune") {
		x, _ := readWAV16(f.wav)
		a, _ := analyze(context.Background(), x)
		speech := voicedOnly(a, energySpeech(a, p), p)
		a.normalise(speech)
		fh, _ := os.Open(f.rttm)
		recs, _ := ReadRTTM(fh)
		fh.Close()
		who := make([]string, a.n)
		for _, r := range recs {
			for t := int(r.Start * 100); t < int(r.End*100) && t < a.n; t++ {
				if who[t] == "" {
					who[t] = r.Speaker
				} else {
					who[t] = "*"
				}
			}
		}
		for _, name := range []string{"speech", "segments"} {
			segs := speech
			if name == "segments" {
				segs = segments(a, speech, p)
			}
			tot, pure, impureSegs := 0, 0, 0
			for _, s := range segs {
				c := map[string]int{}
				n := 0
				for t := s.start; t < s.end; t++ {
					if who[t] != "" && who[t] != "*" {
						c[who[t]]++
						n++
					}
				}
				m := 0
				for _, v := range c {
					m = max(m, v)
				}
				tot += n
				pure += m
				if n-m > 20 {
					impureSegs++
				}
			}
			fmt.Printf("%-12s %-8s n=%3d purity %.3f segments with >0.2 s of another speaker: %d\n", f.id, name, len(segs), float64(pure)/float64(tot), impureSegs)
		}
	}
}

func TestExpK(t *testing.T) {
	if os.Getenv("PARLEY_DIARIZE_EXP") == "" {
		t.Skip("experiment")
	}
	p := expParams(t)
	for _, f := range expFiles(t, "tune") {
		x, _ := readWAV16(f.wav)
		a, _ := analyze(context.Background(), x)
		speech := voicedOnly(a, energySpeech(a, p), p)
		a.normalise(speech)
		segs := segments(a, speech, p)
		var items []gaussStats
		var itemSeg []int
		for i, s := range segs {
			if s.len() < p.minClusterFrames {
				continue
			}
			var g gaussStats
			for t := s.start; t < s.end; t++ {
				g.add(a.row(t))
			}
			items = append(items, g)
			itemSeg = append(itemSeg, i)
		}
		merges := ahc(items, p.bicLambda)
		ubm := trainUBM(a, speech, p)
		fmt.Printf("%s\n", f.id)
		{
			fh, _ := os.Open(f.rttm)
			recs, _ := ReadRTTM(fh)
			fh.Close()
			spk := map[string]int{}
			lab := make([]int, a.n)
			for i := range lab {
				lab[i] = -2
			}
			for _, r := range recs {
				if _, ok := spk[r.Speaker]; !ok {
					spk[r.Speaker] = len(spk)
				}
				for t := int(r.Start * 100); t < int(r.End*100) && t < a.n; t++ {
					if lab[t] == -2 {
						lab[t] = spk[r.Speaker]
					}
				}
			}
			labels := make([]int, a.n)
			for i := range labels {
				labels[i] = -1
			}
			for _, s := range speech {
				for t := s.start; t < s.end; t++ {
					labels[t] = max(0, lab[t])
				}
			}
			resegment(a, speech, ubm, labels, len(spk), p)
			scratch := make([]float64, ubm.k())
			idx := make([][]int32, len(spk))
			for t, l := range labels {
				if l >= 0 {
					idx[l] = append(idx[l], int32(t))
				}
			}
			tot := 0.0
			for c := range idx {
				if len(idx[c]) == 0 {
					continue
				}
				m := mapAdapt(ubm, a.feats, idx[c], p.relevance)
				for _, tt := range idx[c] {
					tot += m.logLik(a.row(int(tt)), scratch)
				}
			}
			fmt.Printf("  oracle K=%d totLL/frame %.3f cvMin %.3f\n", len(spk), tot/float64(a.n), cvSeparation(a, ubm, labels, len(spk), p))
		}
		for k := 1; k <= 7; k++ {
			lab := cut(len(items), merges, k)
			labels := make([]int, a.n)
			for i := range labels {
				labels[i] = -1
			}
			for i, si := range itemSeg {
				for t := segs[si].start; t < segs[si].end; t++ {
					labels[t] = lab[i]
				}
			}
			fillShort(labels, segs)
			kk := resegment(a, speech, ubm, labels, k, p)
			// margins
			idx := make([][]int32, k)
			for t, l := range labels {
				if l >= 0 {
					idx[l] = append(idx[l], int32(t))
				}
			}
			var models []*gmm
			var ids []int
			for c := range k {
				if len(idx[c]) > 0 {
					models = append(models, mapAdapt(ubm, a.feats, idx[c], p.relevance))
					ids = append(ids, c)
				}
			}
			scratch := make([]float64, ubm.k())
			minMargin, totLL := math.Inf(1), 0.0
			var margins []string
			for mi, c := range ids {
				sum := 0.0
				for _, tt := range idx[c] {
					own := models[mi].logLik(a.row(int(tt)), scratch)
					totLL += own
					best := math.Inf(-1)
					for mj := range models {
						if mj != mi {
							best = max(best, models[mj].logLik(a.row(int(tt)), scratch))
						}
					}
					sum += own - best
				}
				m := sum / float64(len(idx[c]))
				if len(models) > 1 {
					minMargin = min(minMargin, m)
					margins = append(margins, fmt.Sprintf("%.2f(%d)", m, len(idx[c])))
				}
			}
			cv := cvSeparation(a, ubm, labels, k, p)
			fmt.Printf("  K=%d live %d totLL/frame %.3f minMargin %.3f cvMin %.3f %v\n", k, kk, totLL/float64(a.n), minMargin, cv, margins)
			dir := filepath.Join("/tmp/dz/k", fmt.Sprint(k), "hyp")
			os.MkdirAll(dir, 0o755)
			fh, _ := os.Create(filepath.Join(dir, f.id+".rttm"))
			WriteRTTM(fh, f.id, turns(labels))
			fh.Close()
		}
	}
}

// cvSeparation: models trained on even seconds, scored on odd ones and
// vice versa; for each pair of clusters the symmetric held-out per-frame
// LLR; returns the minimum over pairs.
func cvSeparation(a *analysis, ubm *gmm, labels []int, k int, p *params) float64 {
	if k < 2 {
		return math.Inf(1)
	}
	scratch := make([]float64, ubm.k())
	// fold by 1-second block
	var models [2][]*gmm
	var idx [2][][]int32
	for f := range 2 {
		idx[f] = make([][]int32, k)
		for t, l := range labels {
			if l >= 0 && (t/100)%2 == f {
				idx[f][l] = append(idx[f][l], int32(t))
			}
		}
		models[f] = make([]*gmm, k)
		for c := range k {
			if len(idx[f][c]) > 0 {
				models[f][c] = mapAdapt(ubm, a.feats, idx[f][c], p.relevance)
			}
		}
	}
	// d[i][j] = mean over held-out frames of i of ll(M_i) − ll(M_j)
	d := make([]float64, k*k)
	cnt := make([]float64, k)
	for f := range 2 {
		tr := models[1-f]
		for i := range k {
			for _, t := range idx[f][i] {
				if tr[i] == nil {
					continue
				}
				own := tr[i].logLik(a.row(int(t)), scratch)
				cnt[i]++
				for j := range k {
					if j != i && tr[j] != nil {
						d[i*k+j] += own - tr[j].logLik(a.row(int(t)), scratch)
					}
				}
			}
		}
	}
	best := math.Inf(1)
	for i := range k {
		for j := i + 1; j < k; j++ {
			if cnt[i] == 0 || cnt[j] == 0 {
				continue
			}
			best = min(best, d[i*k+j]/cnt[i]+d[j*k+i]/cnt[j])
		}
	}
	return best
}

func TestExpInterleaved(t *testing.T) {
	if os.Getenv("PARLEY_DIARIZE_EXP") == "" {
		t.Skip("experiment")
	}
	p := expParams(t)
	k0 := 12
	awStart, _ := strconv.Atoi(os.Getenv("AWSTART"))
	for _, f := range expFiles(t, "tune") {
		x, _ := readWAV16(f.wav)
		a, _ := analyze(context.Background(), x)
		speech := voicedOnly(a, energySpeech(a, p), p)
		a.normalise(speech)
		segs := segments(a, speech, p)
		var items []gaussStats
		var itemSeg []int
		for i, s := range segs {
			if s.len() < p.minClusterFrames {
				continue
			}
			var g gaussStats
			for t := s.start; t < s.end; t++ {
				g.add(a.row(t))
			}
			items = append(items, g)
			itemSeg = append(itemSeg, i)
		}
		merges := ahc(items, p.bicLambda)
		ubm := trainUBM(a, speech, p)
		k := min(k0, len(items))
		lab := cut(len(items), merges, k)
		labels := make([]int, a.n)
		for i := range labels {
			labels[i] = -1
		}
		for i, si := range itemSeg {
			for t := segs[si].start; t < segs[si].end; t++ {
				labels[t] = lab[i]
			}
		}
		fillShort(labels, segs)
		fmt.Printf("%s\n", f.id)
		for k >= 1 {
			resegment(a, speech, ubm, labels, k, p)
			// compact labels
			remap := map[int]int{}
			for t, l := range labels {
				if l >= 0 {
					if _, ok := remap[l]; !ok {
						remap[l] = len(remap)
					}
					labels[t] = remap[l]
				}
			}
			k = len(remap)
			if k == awStart {
				l2 := slices.Clone(labels)
				kk := awCluster(a, speech, ubm, l2, k, Options{}, p)
				resegment(a, speech, ubm, l2, kk, p)
				dir := filepath.Join("/tmp/dz/aw", "hyp")
				os.MkdirAll(dir, 0o755)
				fh, _ := os.Create(filepath.Join(dir, f.id+".rttm"))
				WriteRTTM(fh, f.id, turns(l2))
				fh.Close()
			}
			dir := filepath.Join("/tmp/dz/il", fmt.Sprint(k), "hyp")
			os.MkdirAll(dir, 0o755)
			fh, _ := os.Create(filepath.Join(dir, f.id+".rttm"))
			WriteRTTM(fh, f.id, turns(labels))
			fh.Close()
			if k == 1 {
				break
			}
			st := make([]gaussStats, k)
			for t, l := range labels {
				if l >= 0 {
					st[l].add(a.row(t))
				}
			}
			bi, bj, best, bestN := 0, 0, math.Inf(1), 0.0
			for i := range k {
				for j := i + 1; j < k; j++ {
					x, y := &st[i], &st[j]
					glr := 0.5 * ((x.n+y.n)*x.logDet(y) - x.n*x.logDet(nil) - y.n*y.logDet(nil))
					pen := 0.5 * (numCeps + 0.5*numCeps*(numCeps+1)) * math.Log(x.n+y.n)
					if v := glr / pen; v < best {
						bi, bj, best, bestN = i, j, v, glr/(x.n+y.n)
					}
				}
			}
			cv := cvSeparation(a, ubm, labels, k, p)
			fmt.Printf("  K=%d min glr/pen %.2f (%0.f+%0.f) cv %.2f glrn %.3f\n", k, best, st[bi].n, st[bj].n, cv, bestN)
			for t, l := range labels {
				if l == bj {
					labels[t] = bi
				}
			}
		}
	}
}

func TestExpClusterDiff(t *testing.T) {
	hyp := os.Getenv("HYP")
	if hyp == "" {
		t.Skip("experiment")
	}
	id := strings.TrimSuffix(filepath.Base(hyp), ".rttm")
	var wav string
	for _, f := range expFiles(t, "tune") {
		if f.id == id {
			wav = f.wav
		}
	}
	x, _ := readWAV16(wav)
	a, _ := analyze(context.Background(), x)
	p := defaultParams
	speech := voicedOnly(a, energySpeech(a, &p), &p)
	a.normalise(speech)
	fh, _ := os.Open(hyp)
	recs, _ := ReadRTTM(fh)
	fh.Close()
	type acc struct {
		n, e, f0, nf0 float64
		m, q          [numCeps]float64
	}
	cl := map[string]*acc{}
	for _, r := range recs {
		c := cl[r.Speaker]
		if c == nil {
			c = &acc{}
			cl[r.Speaker] = c
		}
		for t := int(r.Start * 100); t < int(r.End*100) && t < a.n; t++ {
			c.n++
			c.e += float64(a.energy[t])
			if a.voicing[t] > 0.25 {
				c.f0 += float64(a.pitch[t])
				c.nf0++
			}
			for d, v := range a.row(t) {
				c.m[d] += float64(v)
				c.q[d] += float64(v) * float64(v)
			}
		}
	}
	for name, c := range cl {
		fmt.Printf("%s n %.0f energy %.1f f0 %.0f ceps:", name, c.n, c.e/c.n, c.f0/c.nf0)
		for d := range numCeps {
			m := c.m[d] / c.n
			fmt.Printf(" %5.2f", m)
		}
		fmt.Println()
	}
}

// TestExpPairs logs, along a forced refine path down to 1 cluster, the
// features of every cluster pair with its truth (same majority speaker).
func TestExpPairs(t *testing.T) {
	out := os.Getenv("PAIRS")
	if out == "" {
		t.Skip("experiment")
	}
	p := expParams(t)
	w, _ := os.Create(out)
	defer w.Close()
	fmt.Fprintln(w, "file,K,i,j,na,nb,nca,ncb,glr,glrcore,pen,clr,truth,pa,pb,maxruna,maxrunb")
	for _, f := range expFiles(t, "tune", "held") {
		if os.Getenv("PAIRS_SET") != "" && !strings.Contains(f.wav, os.Getenv("PAIRS_SET")) && !strings.HasPrefix(f.id, "dev") {
			continue
		}
		x, _ := readWAV16(f.wav)
		a, _ := analyze(context.Background(), x)
		speech := voicedOnly(a, energySpeech(a, p), p)
		a.normalise(speech)
		segs := segments(a, speech, p)
		var items []gaussStats
		var itemSeg []int
		for i, s := range segs {
			if s.len() < p.minClusterFrames {
				continue
			}
			var g gaussStats
			for t := s.start; t < s.end; t++ {
				g.add(a.row(t))
			}
			items = append(items, g)
			itemSeg = append(itemSeg, i)
		}
		merges := ahc(items, p.bicLambda)
		ubm := trainUBM(a, speech, p)
		k := min(p.initClusters, len(items))
		lab := cut(len(items), merges, k)
		labels := make([]int, a.n)
		for i := range labels {
			labels[i] = -1
		}
		for i, si := range itemSeg {
			for t := segs[si].start; t < segs[si].end; t++ {
				labels[t] = lab[i]
			}
		}
		fillShort(labels, segs)
		fh, _ := os.Open(f.rttm)
		recs, _ := ReadRTTM(fh)
		fh.Close()
		who := make([]string, a.n)
		for _, r := range recs {
			for t := int(r.Start * 100); t < int(r.End*100) && t < a.n; t++ {
				if who[t] == "" {
					who[t] = r.Speaker
				} else {
					who[t] = "*"
				}
			}
		}
		for k > 1 {
			resegment(a, speech, ubm, labels, k, p)
			k = compact(labels)
			if k <= 1 {
				break
			}
			core := coreFrames(labels, p.changeGuard)
			st := make([]gaussStats, k)
			stAll := make([]gaussStats, k)
			maj := make([]map[string]int, k)
			for c := range maj {
				maj[c] = map[string]int{}
			}
			for t, l := range labels {
				if l < 0 {
					continue
				}
				stAll[l].add(a.row(t))
				if core[t] {
					st[l].add(a.row(t))
				}
				if who[t] != "" && who[t] != "*" {
					maj[l][who[t]]++
				}
			}
			runs := make([]int, k)
			for t := 0; t < len(labels); {
				e := t + 1
				for e < len(labels) && labels[e] == labels[t] {
					e++
				}
				if labels[t] >= 0 {
					runs[labels[t]] = max(runs[labels[t]], e-t)
				}
				t = e
			}
			majName := make([]string, k)
			pur := make([]float64, k)
			for c := range k {
				best, tot := 0, 0
				for n, v := range maj[c] {
					tot += v
					if v > best {
						best, majName[c] = v, n
					}
				}
				pur[c] = float64(best) / float64(max(tot, 1))
			}
			// CLR via stats
			bws := make([]bwStats, k)
			post := make([]float64, ubm.k())
			for c := range bws {
				bws[c] = newBWStats(ubm.k(), ubm.dim)
			}
			for t, l := range labels {
				if l >= 0 && core[t] {
					ll := ubm.compLogLik(a.row(t), post)
					bws[l].accumulate(a.row(t), post, ll, ubm.dim)
				}
			}
			bi, bj, best := 0, 0, math.Inf(1)
			for i := range k {
				for j := i + 1; j < k; j++ {
					x, y := &stAll[i], &stAll[j]
					glr := 0.5 * ((x.n+y.n)*x.logDet(y) - x.n*x.logDet(nil) - y.n*y.logDet(nil))
					xc, yc := &st[i], &st[j]
					glrc := 0.0
					if xc.n > 2*numCeps && yc.n > 2*numCeps {
						glrc = 0.5 * ((xc.n+yc.n)*xc.logDet(yc) - xc.n*xc.logDet(nil) - yc.n*yc.logDet(nil))
					}
					pen := 0.5 * (numCeps + 0.5*numCeps*(numCeps+1)) * math.Log(x.n+y.n)
					oi, oj := ubm.offsets(&bws[i], p.relevance), ubm.offsets(&bws[j], p.relevance)
					clr := ubm.linearLLR(&bws[i], oj)/max(bws[i].total(), 1) + ubm.linearLLR(&bws[j], oi)/max(bws[j].total(), 1)
					truth := 0
					if majName[i] == majName[j] {
						truth = 1
					}
					fmt.Fprintf(w, "%s,%d,%d,%d,%.0f,%.0f,%.0f,%.0f,%.2f,%.2f,%.2f,%.4f,%d,%.2f,%.2f,%d,%d\n", f.id, k, i, j, x.n, y.n, xc.n, yc.n, glr, glrc, pen, clr, truth, pur[i], pur[j], runs[i], runs[j])
					if v := glr / pen; v < best {
						bi, bj, best = i, j, v
					}
				}
			}
			// follow the oracle-free path: merge best ratio
			for t, l := range labels {
				if l == bj {
					labels[t] = bi
				}
			}
			k = compact(labels)
		}
	}
}

// TestExpDiscrim: per file, train a 16-comp GMM per reference speaker on
// even seconds, classify 1-s pieces of odd seconds.
func TestExpDiscrim(t *testing.T) {
	if os.Getenv("PARLEY_DIARIZE_EXP") == "" {
		t.Skip("experiment")
	}
	p := *expParams(t)
	for _, f := range expFiles(t, "tune") {
		x, _ := readWAV16(f.wav)
		a, _ := analyze(context.Background(), x)
		speech := voicedOnly(a, energySpeech(a, &p), &p)
		a.normalise(speech)
		fh, _ := os.Open(f.rttm)
		recs, _ := ReadRTTM(fh)
		fh.Close()
		who := make([]int, a.n)
		spk := map[string]int{}
		for _, r := range recs {
			if _, ok := spk[r.Speaker]; !ok {
				spk[r.Speaker] = len(spk)
			}
			for t := int(r.Start * 100); t < int(r.End*100) && t < a.n; t++ {
				if who[t] == 0 {
					who[t] = spk[r.Speaker] + 1
				} else {
					who[t] = -1
				}
			}
		}
		inSpeech := make([]bool, a.n)
		for _, s := range speech {
			for t := s.start; t < s.end; t++ {
				inSpeech[t] = true
			}
		}
		k := len(spk)
		train := make([][]int32, k)
		for tt := range a.n {
			if who[tt] > 0 && inSpeech[tt] && (tt/100)%2 == 0 {
				train[who[tt]-1] = append(train[who[tt]-1], int32(tt))
			}
		}
		ubm := trainUBM(a, speech, &p)
		ms := make([]*gmm, k)
		for c := range k {
			if ml, _ := strconv.Atoi(os.Getenv("ML")); ml > 0 {
				ms[c] = trainGMM(a.feats, numCeps, train[c], min(ml, max(1, len(train[c])/100)), 10, 1)
			} else {
				ms[c] = mapAdapt(ubm, a.feats, train[c], p.relevance)
			}
		}
		scratch := make([]float64, 64)
		okF, nF, okS, nS := 0, 0, 0, 0
		for s := 1; s*100 < a.n; s += 2 {
			sum := make([]float64, k)
			n := 0
			var lab int
			for tt := s * 100; tt < min((s+1)*100, a.n); tt++ {
				if who[tt] <= 0 || !inSpeech[tt] {
					continue
				}
				lab = who[tt] - 1
				best, bj := math.Inf(-1), 0
				for c := range k {
					l := ms[c].logLik(a.row(tt), scratch)
					sum[c] += l
					if l > best {
						best, bj = l, c
					}
				}
				if bj == lab {
					okF++
				}
				nF++
				n++
			}
			if n >= 50 {
				bj := 0
				for c := range k {
					if sum[c] > sum[bj] {
						bj = c
					}
				}
				if bj == lab {
					okS++
				}
				nS++
				if os.Getenv("CONF") != "" {
					fmt.Printf("   %s piece %d true %d got %d\n", f.id, s, lab, bj)
				}
			}
		}
		fmt.Printf("%-12s speakers %d frame acc %.3f  1-s piece acc %.3f (%d pieces)\n", f.id, k, float64(okF)/float64(nF), float64(okS)/float64(nS), nS)
	}
}
