package diarize

import (
	"context"
	"math"
	"math/bits"
	"testing"
)

// TestOverlapSecondSpeakers: on the dev set's meetings (never trained
// on), the second speakers labelled over overlapped speech are mostly
// right — a speaker the reference has there besides the first label's —
// and they lower the reference speakers missed in the overlapped frames.
func TestOverlapSecondSpeakers(t *testing.T) {
	labelled, right, missedBefore, missedAfter := 0, 0, 0, 0
	for _, m := range traceMeetings(t, "", true, "") {
		a, speech, _, _ := m.analyse(t)
		ref := referenceSets(t, m.rttm, a.n)
		labels, k, sc, err := speakerFrames(context.Background(), a, speech, Options{}, &defaultParams)
		if err != nil {
			t.Fatal(err)
		}
		second := secondSpeakers(overlapFeatures(a, sc, speech, labels, k, defaultParams.relevance, defaultParams.overlap, nil), defaultParams.overlap)
		// Each cluster's reference speaker: the one it holds most
		// single-speaker frames of.
		votes := make([][64]int, k)
		for t, l := range labels {
			if l >= 0 && bits.OnesCount64(ref[t]) == 1 {
				votes[l][bits.TrailingZeros64(ref[t])]++
			}
		}
		owner := make([]int, k)
		for c := range votes {
			for s, n := range votes[c] {
				if n > votes[c][owner[c]] {
					owner[c] = s
				}
			}
		}
		for t := range labels {
			n := bits.OnesCount64(ref[t])
			if n >= 2 && labels[t] >= 0 {
				missedBefore += n - 1
				missedAfter += n - 1
				if second[t] >= 0 {
					missedAfter--
				}
			}
			if second[t] < 0 {
				continue
			}
			labelled++
			if o := owner[second[t]]; ref[t]&(1<<o) != 0 && o != owner[labels[t]] {
				right++
			}
		}
	}
	t.Logf("second speakers on %d frames, %d right; reference speakers missed in overlapped frames %d → %d", labelled, right, missedBefore, missedAfter)
	if labelled == 0 || 2*right < labelled || missedAfter >= missedBefore {
		t.Errorf("second speakers on %d frames, %d right (want more than half); missed %d → %d", labelled, right, missedBefore, missedAfter)
	}
}

// turns gives a second speaker's frames as turns marked Overlap, named
// like that speaker's own turns, in start order.
func TestTurnsWithSecondSpeakers(t *testing.T) {
	labels := []int{-1, 1, 1, 1, 1, 0, 0, 0, -1}
	second := []int{-1, -1, -1, 0, 0, 1, -1, -1, -1}
	got := turns(labels, second)
	want := []Turn{
		{Speaker: "SPEAKER_1", Start: 0.01, End: 0.05},
		{Speaker: "SPEAKER_2", Start: 0.03, End: 0.05, Overlap: true},
		{Speaker: "SPEAKER_2", Start: 0.05, End: 0.08},
		{Speaker: "SPEAKER_1", Start: 0.05, End: 0.06, Overlap: true},
	}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if g := got[i]; g.Speaker != want[i].Speaker || g.Overlap != want[i].Overlap || math.Abs(g.Start-want[i].Start) > 1e-9 || math.Abs(g.End-want[i].End) > 1e-9 {
			t.Errorf("turn %d: %+v, want %+v", i, g, want[i])
		}
	}
	if got := turns(labels, nil); len(got) != 2 || got[0].Overlap || got[1].Overlap {
		t.Errorf("without second speakers: %+v", got)
	}
}
