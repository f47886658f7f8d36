package diarize

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/testkit/devset"
)

// TestMergeTrace is a diagnostic, not a check: it runs only when
// PARLEY_DIARIZE_TRACE lists generated-set directories (laid out as
// bench-diarize caches them: audio/, rttm/), comma-separated, and also
// traces the dev set's meetings. For each meeting it runs the pipeline up
// to the refinement, then merges the most alike pair (lowest ratio, as
// refine does) down to one cluster, printing at each step whether the
// pair belonged to the same reference speaker (by majority of frames),
// its ratio and divergence, and the lowest ratio among same-speaker and
// among different-speaker pairs, and the pair's adjacency (changes from
// one to the other with no pause, per run of the smaller) with the
// highest adjacency among same- and among different-speaker pairs; it
// marks where the merge thresholds stop. docs/diarization.md ("What was tried and dropped") cites it.
//
//	PARLEY_DIARIZE_TRACE=$HOME/.cache/parley/diarize-bench/hard-tune go test -run TestMergeTrace -v ./internal/diarize
func TestMergeTrace(t *testing.T) {
	env := os.Getenv("PARLEY_DIARIZE_TRACE")
	if env == "" {
		t.Skip("diagnostic: set PARLEY_DIARIZE_TRACE to generated-set directories")
	}
	ms := traceMeetings(t, env, true, "")
	p := &defaultParams
	for _, m := range ms {
		a, speech, ref, nSpk := m.analyse(t)
		labels, k := firstClustering(a, speech, Options{}, p)
		sc := newScorer(a, speech, trainUBM(a, speech, p), p.topC)
		fmt.Printf("== %s: %d speakers\n", m.id, nSpk)
		stopped := false
		for k > 1 {
			resegment(sc, speech, labels, k, p.resegIters, p.loopStep, p)
			k = compact(labels)
			st := make([]gaussStats, k)
			votes := make([][]int, k)
			for c := range votes {
				votes[c] = make([]int, nSpk)
			}
			for t, l := range labels {
				if l >= 0 {
					st[l].add(a.row(t))
					if ref[t] >= 0 {
						votes[l][ref[t]]++
					}
				}
			}
			owner := make([]int, k)
			owners := map[int]bool{}
			for c, v := range votes {
				for s, n := range v {
					if n > v[owner[c]] {
						owner[c] = s
					}
				}
				owners[owner[c]] = true
			}
			// Direct changes between clusters (no pause), and runs.
			adj := make([][]int, k)
			for c := range adj {
				adj[c] = make([]int, k)
			}
			runs := make([]int, k)
			for t := 1; t < len(labels); t++ {
				a, b := labels[t-1], labels[t]
				if b >= 0 && a != b {
					runs[b]++
				}
				if a >= 0 && b >= 0 && a != b {
					adj[a][b]++
					adj[b][a]++
				}
			}
			adjacency := func(i, j int) float64 {
				return float64(adj[i][j]) / float64(max(1, min(runs[i], runs[j])))
			}
			maxSameA, maxDiffA := 0.0, 0.0
			bi, bj, best, bestDiv := -1, -1, math.Inf(1), 0.0
			same, diff := math.Inf(1), math.Inf(1)
			for i := range k {
				for j := i + 1; j < k; j++ {
					ratio, div := pairDistance(&st[i], &st[j])
					if ratio < best {
						bi, bj, best, bestDiv = i, j, ratio, div
					}
					if owner[i] == owner[j] {
						maxSameA = max(maxSameA, adjacency(i, j))
					} else {
						maxDiffA = max(maxDiffA, adjacency(i, j))
					}
					if owner[i] == owner[j] {
						same = min(same, ratio)
					} else {
						diff = min(diff, ratio)
					}
				}
			}
			if !stopped && best >= p.mergeRatio && bestDiv >= p.mergeDivergence {
				stopped = true
				fmt.Printf("   -- the thresholds stop here\n")
			}
			verdict := "same"
			if owner[bi] != owner[bj] {
				verdict = "DIFF"
			}
			fmt.Printf("  k=%2d (%d speakers' majority) merge %s ratio %6.2f div %5.2f frames %5.0f+%5.0f | lowest same %6.2f diff %6.2f | adj %.2f (runs %d %d) same max %.2f diff max %.2f\n",
				k, len(owners), verdict, best, bestDiv, st[bi].n, st[bj].n, same, diff, adjacency(bi, bj), runs[bi], runs[bj], maxSameA, maxDiffA)
			for t, l := range labels {
				if l == bj {
					labels[t] = bi
				}
			}
			k = compact(labels)
		}
	}
}

// referenceFrames reads an RTTM file into one speaker index per 10 ms
// frame (where several overlap, the one who spoke first in the meeting;
// −1 where none), and the number of speakers.
func referenceFrames(t *testing.T, path string, n int) ([]int, int) {
	sets := referenceSets(t, path, n)
	ref := make([]int, n)
	all := uint64(0)
	for i, s := range sets {
		ref[i] = -1
		if s != 0 {
			ref[i] = bits.TrailingZeros64(s)
		}
		all |= s
	}
	return ref, bits.OnesCount64(all)
}

// traceMeeting is one meeting a diagnostic reads: its audio and reference.
type traceMeeting struct{ id, wav, rttm string }

// traceMeetings lists the meetings of the generated-set directories in
// env (comma-separated, laid out as bench-diarize caches them), after the
// dev set's when withDev; only those whose id contains only, if given.
func traceMeetings(t *testing.T, env string, withDev bool, only string) []traceMeeting {
	t.Helper()
	var ms []traceMeeting
	if withDev {
		dev, err := devset.Meetings()
		if err != nil {
			t.Fatal(err)
		}
		dir, _ := devset.Dir()
		for _, m := range dev {
			ms = append(ms, traceMeeting{m.ID, m.Mix, filepath.Join(dir, "rttm", m.ID+".rttm")})
		}
	}
	for _, root := range strings.Split(env, ",") {
		if root == "" {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(root, "audio"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			id := strings.TrimSuffix(e.Name(), ".wav")
			if strings.Contains(id, only) {
				ms = append(ms, traceMeeting{id, filepath.Join(root, "audio", e.Name()), filepath.Join(root, "rttm", id+".rttm")})
			}
		}
	}
	return ms
}

// analyse returns the meeting's normalised features and speech regions,
// and its reference speaker per frame and number of speakers.
func (m traceMeeting) analyse(t *testing.T) (*analysis, []span, []int, int) {
	t.Helper()
	r, err := audiofile.Open(m.wav)
	if err != nil {
		t.Fatal(err)
	}
	a, speech, err := analyzeSource(context.Background(), r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	ref, nSpk := referenceFrames(t, m.rttm, a.n)
	a.normalise(speech)
	return a, speech, ref, nSpk
}
