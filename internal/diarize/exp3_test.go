package diarize

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestExpEigen(t *testing.T) {
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
		resegment(a, speech, ubm, labels, k, p)
		k = compact(labels)
		// majority speakers
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
		idx := trainingFrames(labels, k, p.changeGuard)
		models := make([]*gmm, k)
		for c := range k {
			models[c] = adaptML(ubm, a.feats, idx[c], p.speakerIters)
		}
		scratch := make([]float64, ubm.k())
		ll := make([]float64, k*k) // mean LL of cluster i under model j
		for i := range k {
			for j := range k {
				ll[i*k+j] = models[j].logLikSum(a.feats, idx[i], scratch) / float64(len(idx[i]))
			}
		}
		d := make([]float64, k*k)
		var ds []float64
		for i := range k {
			for j := range k {
				if i != j {
					d[i*k+j] = ll[i*k+i] - ll[i*k+j] + ll[j*k+j] - ll[j*k+i]
					if i < j {
						ds = append(ds, d[i*k+j])
					}
				}
			}
		}
		slices.Sort(ds)
		sigma := ds[len(ds)/2]
		fmt.Printf("%s K0=%d\n", f.id, k)
		for i := range k {
			c := map[string]int{}
			for _, tt := range idx[i] {
				c[who[tt]]++
			}
			fmt.Printf("  %2d %-40v", i, c)
			for j := range k {
				fmt.Printf(" %5.1f", d[i*k+j])
			}
			fmt.Println()
		}
		for _, scale := range []float64{0.5, 1} {
			A := mat.NewSymDense(k, nil)
			deg := make([]float64, k)
			for i := range k {
				for j := range k {
					v := 1.0
					if i != j {
						v = math.Exp(-d[i*k+j] / (scale * sigma))
					}
					A.SetSym(i, j, v)
					deg[i] += v
				}
			}
			L := mat.NewSymDense(k, nil)
			for i := range k {
				for j := range k {
					v := -A.At(i, j) / math.Sqrt(deg[i]*deg[j])
					if i == j {
						v += 1
					}
					L.SetSym(i, j, v)
				}
			}
			var es mat.EigenSym
			es.Factorize(L, false)
			ev := es.Values(nil)
			slices.Sort(ev)
			bestK, bestGap := 1, 0.0
			for kk := 1; kk < min(k, 8); kk++ {
				if g := ev[kk] - ev[kk-1]; g > bestGap {
					bestK, bestGap = kk, g
				}
			}
			fmt.Printf("  scale %.1f eig %.3f -> K=%d\n", scale, ev[:min(k, 8)], bestK)
		}
	}
}
