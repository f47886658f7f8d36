package diarize

import (
	"context"
	"math"
	"testing"
)

// Two synthetic voices back to back, no pause: the change detection must
// cut within 0.25 s of the change. It over-segments on purpose (the
// clustering joins pieces of one voice), but not wildly.
func TestChangeDetectionFindsVoiceChange(t *testing.T) {
	x := append(voiceLow.render(3, 1), voiceHigh.render(3, 2)...)
	a, speech, err := analyzeSource(context.Background(), &sliceSource{x: x})
	if err != nil {
		t.Fatal(err)
	}
	if len(speech) != 1 {
		t.Fatalf("speech regions %v, want one region over the two voices", speech)
	}
	a.normalise(speech)
	segs := segments(a, speech, &defaultParams)
	best := math.Inf(1)
	for _, s := range segs[1:] {
		best = min(best, math.Abs(frameTime(s.start)-3))
	}
	if best > 0.25 {
		t.Errorf("no cut within 0.25 s of the change at 3 s: segments %v", segs)
	}
	if len(segs) > 4 {
		t.Errorf("%d segments for two steady voices: %v", len(segs), segs)
	}
}
