package diarize

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
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
