package vadbench

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/internal/audio/vad"
	"github.com/parleyhq/parley/internal/testkit/devset"
)

// TestPerTrackDERRegression runs the per-track attribution benchmark:
// each dev meeting's stems through the near-field VAD, regions labelled
// with the stem's speaker, scored by the der tool (collar 0.25 s, UEM).
// The limits are the measured values (docs/benchmarks-speech.md) plus
// about one point, so a change that costs accuracy fails here.
func TestPerTrackDERRegression(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the der scorer")
	}
	ctx := context.Background()
	der, err := BuildDER(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ms, err := devset.Meetings()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no dev meeting")
	}
	hyp := t.TempDir()
	for _, m := range ms {
		segs, err := PerTrack(m, vad.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteRTTM(filepath.Join(hyp, m.ID+".rttm"), m.ID, segs); err != nil {
			t.Fatal(err)
		}
	}
	res, err := ScoreDER(ctx, der, hyp, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	// Measured 2026-11-27: dev-r-en-01 0.93 %, dev-s-en-01 0.37 %,
	// dev-s-fr-01 0.00 %, total 0.53 %.
	limit := map[string]float64{"dev-r-en-01": 0.02, "dev-s-en-01": 0.015, "dev-s-fr-01": 0.01, "TOTAL": 0.015}
	rows := map[string]DER{}
	for _, r := range res {
		t.Logf("%s: DER %.2f %% (missed %.2f s, false alarm %.2f s, confusion %.2f s of %.1f s)",
			r.File, 100*r.DER, r.Missed, r.FalseAlarm, r.Confusion, r.Total)
		if _, dup := rows[r.File]; dup {
			t.Errorf("%s scored twice", r.File)
		}
		if !(r.Total > 0) {
			t.Errorf("%s: %.2f s of reference speech scored", r.File, r.Total)
		}
		rows[r.File] = r
	}
	want := []string{"TOTAL"}
	for _, m := range ms {
		want = append(want, m.ID)
	}
	for _, id := range want {
		r, ok := rows[id]
		if !ok {
			t.Errorf("no score for %s", id)
			continue
		}
		l, ok := limit[id]
		if !ok {
			// A meeting added to the dev set later is held to 5 %, just
			// above the energy VAD's 4 % total, until it is measured.
			l = 0.05
		}
		// Written so that NaN fails: NaN > l is false, NaN <= l too.
		if !(r.DER <= l) {
			t.Errorf("%s: DER %.2f %%, limit %.1f %%", id, 100*r.DER, 100*l)
		}
	}
	if len(rows) != len(want) {
		t.Errorf("%d scored rows for %d meetings and the total", len(rows), len(ms))
	}
}

func TestFrameAccuracyAndNoise(t *testing.T) {
	ref := []vad.Segment{{Start: 1, End: 2}, {Start: 3, End: 3.5}}
	hyp := []vad.Segment{{Start: 1.1, End: 2}, {Start: 4, End: 4.2}}
	acc, miss, fa := FrameAccuracy(ref, hyp, 5)
	// 500 frames: 10 missed, 50 missed (second segment), 20 false alarm.
	if acc != 420.0/500 || miss != 60.0/150 || fa != 20.0/350 {
		t.Errorf("acc %g miss %g fa %g", acc, miss, fa)
	}
	x := make([]float32, 16000)
	for i := range x {
		x[i] = 0.1
	}
	for _, kind := range []string{White, Pink} {
		y := AddNoise(x, []vad.Segment{{Start: 0, End: 1}}, kind, 10, 1)
		var p float64
		for i := range y {
			d := float64(y[i] - x[i])
			p += d * d
		}
		// speech power 0.01, so noise power 0.001 at 10 dB SNR.
		if p /= float64(len(y)); p < 0.00095 || p > 0.00105 {
			t.Errorf("%s noise power %g, want 0.001", kind, p)
		}
	}
}
