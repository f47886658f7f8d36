package diarize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"gonum.org/v1/gonum/mat"
)

func TestCountExperiment(t *testing.T) {
	env := os.Getenv("PARLEY_DIARIZE_COUNT")
	if env == "" {
		t.Skip("diagnostic")
	}
	type meeting struct{ id, wav, rttm string }
	var ms []meeting
	for _, root := range strings.Split(env, ",") {
		ents, err := os.ReadDir(filepath.Join(root, "audio"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			id := strings.TrimSuffix(e.Name(), ".wav")
			if f := os.Getenv("ONLY"); f != "" && !strings.Contains(id, f) {
				continue
			}
			ms = append(ms, meeting{id, filepath.Join(root, "audio", e.Name()), filepath.Join(root, "rttm", id+".rttm")})
		}
	}
	p := defaultParams
	fmt.Sscanf(os.Getenv("CP"), "%d,%d,%d,%f", &p.count.win, &p.count.hop, &p.count.dims, &p.count.relevance)
	right := 0
	for _, m := range ms {
		r, err := audiofile.Open(m.wav)
		if err != nil {
			t.Fatal(err)
		}
		a, speech, err := analyzeSource(context.Background(), r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		_, nSpk := referenceFrames(t, m.rttm, a.n)
		a.normalise(speech)
		sc := newScorer(a, speech, trainUBM(a, speech, &p), p.topC)
		vecs, wins := windowVectors(sc, speech, &p.count)
		emb := embed(vecs, &p.count)
		k, bp, g := nmeCount(emb, 2, min(p.count.maxK, len(emb)/8))
		if k == nSpk {
			right++
		}
		fmt.Printf("%-18s true %d est %d p %d gap %.3f wins %d\n", m.id, nSpk, k, bp, g, len(wins))
		if os.Getenv("PROFILE") != "" {
			aff := affinity(emb)
			n := len(emb)
			for pp := 2; pp <= n/4; pp += max(1, n/80) {
				var es mat.EigenSym
				es.Factorize(prunedLaplacian(aff, n, pp), false)
				v := es.Values(nil)
				top := v[len(v)-1]
				fmt.Printf("   p %3d:", pp)
				for i := 1; i < 10; i++ {
					fmt.Printf(" %.3f", (v[i+1]-v[i])/top)
				}
				fmt.Println()
			}
		}
	}
	fmt.Printf("right %d of %d\n", right, len(ms))
}
