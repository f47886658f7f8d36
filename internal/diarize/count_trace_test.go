package diarize

import (
	"fmt"
	"os"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestCountExperiment is a diagnostic, not a check, like TestMergeTrace:
// it runs only when PARLEY_DIARIZE_COUNT lists generated-set directories
// (as bench-diarize caches them) and prints, for each meeting, the window
// embeddings' speaker count against the true one (ONLY=substring keeps
// some meetings; CP=win,hop,dims,relevance changes the window
// constants; PROFILE=1 prints the normalised eigengaps at each pruning).
// docs/diarization.md ("Count and clustering from window embeddings")
// cites its counts.
//
//	PARLEY_DIARIZE_COUNT=$HOME/.cache/parley/diarize-bench/tune,$HOME/.cache/parley/diarize-bench/hard-tune go test -run TestCountExperiment -v ./internal/diarize
func TestCountExperiment(t *testing.T) {
	env := os.Getenv("PARLEY_DIARIZE_COUNT")
	if env == "" {
		t.Skip("diagnostic: set PARLEY_DIARIZE_COUNT to generated-set directories")
	}
	ms := traceMeetings(t, env, false, os.Getenv("ONLY"))
	p := defaultParams
	fmt.Sscanf(os.Getenv("CP"), "%d,%d,%d,%f", &p.count.win, &p.count.hop, &p.count.dims, &p.count.relevance)
	right := 0
	for _, m := range ms {
		a, speech, _, nSpk := m.analyse(t)
		sc := newScorer(a, speech, trainUBM(a, speech, &p), p.topC)
		vecs, wins := windowVectors(sc, speech, &p.count)
		emb := ensembleEmbed(a, speech, wins, vecs, &p)
		k, bp, g := nmeCount(emb, 2, min(p.count.maxK, len(emb)/8))
		if k == nSpk {
			right++
		}
		fmt.Printf("%-18s true %d est %d p %d gap %.3f wins %d\n", m.id, nSpk, k, bp, g, len(wins))
		if os.Getenv("PROFILE") != "" {
			n := len(emb)
			nb := neighbours(affinity(emb), n)
			for pp := 2; pp <= n/4; pp += max(1, n/80) {
				var es mat.EigenSym
				es.Factorize(prunedLaplacian(nb, n, pp), false)
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
