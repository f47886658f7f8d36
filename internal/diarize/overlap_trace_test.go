package diarize

import (
	"context"
	"fmt"
	"math/bits"
	"os"
	"strings"
	"testing"
)

// TestOverlapExperiment is a diagnostic, not a check, like TestMergeTrace:
// it runs only when PARLEY_DIARIZE_OVERLAP lists generated-set directories
// (as bench-diarize caches them; "dev" alone for the dev set only) and
// prints, for each overlap setting (OV="share,reach,min,island;…", the
// default's by default), frame counts against the reference at collar 0:
// the second speakers labelled, how many of them are right (a speaker the
// reference has there, other than the first label's), how many sit where
// the reference has one speaker or none, and the reference speakers
// missed in the overlapped frames before and after. docs/diarization.md
// ("Overlap") cites it.
//
//	PARLEY_DIARIZE_OVERLAP=$HOME/.cache/parley/diarize-bench/tune go test -run TestOverlapExperiment -v ./internal/diarize
func TestOverlapExperiment(t *testing.T) {
	env := os.Getenv("PARLEY_DIARIZE_OVERLAP")
	if env == "" {
		t.Skip("diagnostic: set PARLEY_DIARIZE_OVERLAP to generated-set directories")
	}
	if env == "dev" {
		env = ""
	}
	ms := traceMeetings(t, env, true, os.Getenv("ONLY"))
	settings := []params{defaultParams}
	if ov := os.Getenv("OV"); ov != "" {
		settings = nil
		for _, s := range strings.Split(ov, ";") {
			p := defaultParams
			if _, err := fmt.Sscanf(s, "%f,%d,%d,%d", &p.overlapShare, &p.overlapReach, &p.overlapMin, &p.overlapIsland); err != nil {
				t.Fatalf("OV %q: %v", s, err)
			}
			settings = append(settings, p)
		}
	}
	type counts struct{ second, right, alone, missedBefore, missedAfter, overlapped int }
	total := make([]counts, len(settings))
	for _, m := range ms {
		a, speech, _, _ := m.analyse(t)
		ref := referenceSets(t, m.rttm, a.n)
		labels, k, sc, err := speakerFrames(context.Background(), a, speech, Options{}, &defaultParams)
		if err != nil {
			t.Fatal(err)
		}
		// Each cluster's reference speaker: the one it holds most frames of.
		votes := make([]map[int]int, k)
		for c := range votes {
			votes[c] = map[int]int{}
		}
		for t, l := range labels {
			if l >= 0 && bits.OnesCount64(ref[t]) == 1 {
				votes[l][bits.TrailingZeros64(ref[t])]++
			}
		}
		owner := make([]int, k)
		for c, v := range votes {
			owner[c] = -1
			for s, n := range v {
				if owner[c] < 0 || n > v[owner[c]] {
					owner[c] = s
				}
			}
		}
		has := func(t, c int) bool { return owner[c] >= 0 && ref[t]&(1<<owner[c]) != 0 }
		for i := range settings {
			p := &settings[i]
			second := make([]int, a.n)
			for t := range second {
				second[t] = -1
			}
			for _, o := range overlaps(sc, speech, labels, k, p) {
				for t := o.start; t < o.end; t++ {
					if labels[t] >= 0 && labels[t] != o.speaker {
						second[t] = o.speaker
					}
				}
			}
			var c counts
			for t := range a.n {
				n := bits.OnesCount64(ref[t])
				if n >= 2 {
					c.overlapped++
					c.missedBefore += max(0, n-b2i(labels[t] >= 0))
					h := b2i(labels[t] >= 0) + b2i(second[t] >= 0)
					c.missedAfter += max(0, n-h)
				}
				if second[t] < 0 {
					continue
				}
				c.second++
				if n < 2 {
					c.alone++
				} else if has(t, second[t]) && owner[second[t]] != owner[labels[t]] {
					c.right++
				}
			}
			fmt.Printf("%-18s setting %d: overlapped %5d missed %5d -> %5d; second %5d right %5d alone %5d\n",
				m.id, i, c.overlapped, c.missedBefore, c.missedAfter, c.second, c.right, c.alone)
			tt := &total[i]
			tt.second += c.second
			tt.right += c.right
			tt.alone += c.alone
			tt.missedBefore += c.missedBefore
			tt.missedAfter += c.missedAfter
			tt.overlapped += c.overlapped
		}
	}
	for i, c := range total {
		p := settings[i]
		fmt.Printf("TOTAL setting %d (share %.2f reach %d min %d island %d): overlapped %d missed %d -> %d; second %d right %d (%.0f %%) alone %d\n",
			i, p.overlapShare, p.overlapReach, p.overlapMin, p.overlapIsland, c.overlapped, c.missedBefore, c.missedAfter, c.second, c.right,
			100*float64(c.right)/float64(max(1, c.second)), c.alone)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
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
