package diarizebench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/diarize"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
)

// TestDevDERRegression holds the dev set to the documented targets
// (docs/benchmarks-diarization.md, collar 0.25 s): no meeting above 15 %,
// total at most 10 % (and see below), speaker count right on at least 2 of 3 meetings.
// Measured when the constants were set: dev-r-en-01 3.4 %, dev-s-en-01
// 11.0 %, dev-s-fr-01 12.7 %, total 8.4 %, speakers right on 2 of 3
// (dev-s-en-01 finds 3 of 4). Issue 13 also holds the total to the
// measured 8.4 % plus one point: a change that loses more than that
// fails here even inside the targets.
func TestDevDERRegression(t *testing.T) {
	dev, res := scoreDev(t, func(ctx context.Context, dev Set, hyp string) error {
		return Diarize(ctx, dev, hyp, diarize.Options{})
	})
	const meetingLimit, totalLimit = 0.15, 0.084 + 0.01
	for _, r := range res {
		t.Logf("%s DER %.1f %% (missed %.2f s, false alarm %.2f s, confusion %.2f s), speakers %d/%d",
			r.File, 100*r.DER(), r.Missed, r.FalseAlarm, r.Confusion, r.HypSpeakers, r.RefSpeakers)
	}
	rows, err := byFile(res, dev.IDs)
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for _, id := range dev.IDs {
		r := rows[id]
		// Written so that NaN fails: NaN > limit is false, NaN <= limit too.
		if !(r.DER() <= meetingLimit) {
			t.Errorf("%s: DER %.1f %%, target at most %.0f %%", id, 100*r.DER(), 100*meetingLimit)
		}
		if r.HypSpeakers == r.RefSpeakers {
			right++
		}
	}
	if d := rows["TOTAL"].DER(); !(d <= totalLimit) {
		t.Errorf("total DER %.1f %%, at most %.1f %% (8.4 %% measured + 1 point)", 100*d, 100*totalLimit)
	}
	if need := (2*len(dev.IDs) + 2) / 3; right < need {
		t.Errorf("speaker count right on %d of %d meetings, target %d", right, len(dev.IDs), need)
	}
}

// byFile returns the scorer's rows by file, with exactly one row for
// each of ids and one TOTAL, each scoring some reference speech: a
// meeting the scorer skipped, scored twice or scored against nothing is
// an error, not a pass.
func byFile(res []Result, ids []string) (map[string]Result, error) {
	rows := map[string]Result{}
	for _, r := range res {
		if _, dup := rows[r.File]; dup {
			return nil, fmt.Errorf("%s scored twice", r.File)
		}
		if !(r.Total > 0) || math.IsNaN(r.DER()) || math.IsInf(r.DER(), 0) {
			return nil, fmt.Errorf("%s: no usable score (reference %.2f s, DER %v)", r.File, r.Total, r.DER())
		}
		rows[r.File] = r
	}
	for _, id := range append(ids[:len(ids):len(ids)], "TOTAL") {
		if _, ok := rows[id]; !ok {
			return nil, fmt.Errorf("no score for %s", id)
		}
	}
	if len(rows) != len(ids)+1 {
		return nil, fmt.Errorf("%d rows for %d meetings and the total", len(rows), len(ids))
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no meeting to score")
	}
	return rows, nil
}

// TestHeldOutSet scores the four generated held-out meetings (never used
// to choose a constant): the total may not rise by more than a point over
// what was measured, 8.9 % (docs/benchmarks-diarization.md, "espeak-ng
// variants"), and no count may be off by more than one. gen-held-03 is
// in it at 23.6 % (the low m6 voice split in two): this guards against
// losing more, it does not call that meeting good. (Until the meetings
// were rendered with the variants their specs name, this test held
// gen-held-03 alone to 8 %.)
func TestHeldOutSet(t *testing.T) {
	specs := meetsynth.HeldOut()
	rows := generatedRows(t, specs, diarize.Options{})
	for _, sp := range specs {
		r := rows[sp.ID]
		t.Logf("%s DER %.1f %%, speakers %d/%d", r.File, 100*r.DER(), r.HypSpeakers, r.RefSpeakers)
		if d := r.HypSpeakers - r.RefSpeakers; d < -1 || d > 1 {
			t.Errorf("%s: %d speakers found for %d", sp.ID, r.HypSpeakers, r.RefSpeakers)
		}
	}
	const totalLimit = 0.089 + 0.01
	if d := rows["TOTAL"].DER(); !(d <= totalLimit) {
		t.Errorf("held-out total DER %.1f %%, at most %.1f %% (8.9 %% measured + 1 point)", 100*d, 100*totalLimit)
	}
}

// A generated meeting with over 75 s of speech (four espeak and flite
// voices) goes through the window embeddings: the count is right and
// every speaker's turns are theirs (1.5 % DER measured, 2.5 % before the
// espeak-ng variants were rendered; the change-point clustering it
// replaces gave 15.4 % with 6 speakers for 4).
func TestLongGeneratedMeeting(t *testing.T) {
	r, log := generatedDERLogged(t, meetsynth.Tune(), "gen-tune-03")
	if !strings.Contains(log, "window embeddings") {
		t.Fatal("the window embeddings were not used")
	}
	if !(r.DER() <= 0.05) || r.HypSpeakers != r.RefSpeakers {
		t.Errorf("%s: DER %.1f %% (guard 5 %%), speakers %d/%d", r.File, 100*r.DER(), r.HypSpeakers, r.RefSpeakers)
	}
}

// A meeting with under 75 s of speech keeps the change-point clustering,
// bounded by the window embeddings' estimate plus one: the two French
// voices of hard-tune-fr-02 (Opus at 16 kb/s) were found as four speakers
// (30.3 % DER) without the bound, three with it (16.4 %); that was one
// voice at two pitches (the espeak-ng variant was dropped); rendered as
// specified, the two voices are found as two (2.6 %).
func TestShortGeneratedMeetingBounded(t *testing.T) {
	r, log := generatedDERLogged(t, meetsynth.HardTune(), "hard-tune-fr-02")
	if !strings.Contains(log, "window embeddings bound the count") {
		t.Fatal("the window embeddings did not bound the count")
	}
	if !(r.DER() <= 0.20) || r.HypSpeakers > 3 {
		t.Errorf("%s: DER %.1f %% (guard 20 %%), speakers %d/%d (at most 3)", r.File, 100*r.DER(), r.HypSpeakers, r.RefSpeakers)
	}
}

// generatedDERLogged is generatedDER with the diarizer's debug log
// returned.
func generatedDERLogged(t *testing.T, specs []meetsynth.Spec, id string) (Result, string) {
	t.Helper()
	var b bytes.Buffer
	log := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := generatedDER(t, specs, id, diarize.Options{Logger: log})
	return r, b.String()
}

// generatedDER renders the meeting id of specs, diarizes it with opts and
// scores it (collar 0.25 s).
func generatedDER(t *testing.T, specs []meetsynth.Spec, id string, opts diarize.Options) Result {
	t.Helper()
	for _, sp := range specs {
		if sp.ID == id {
			r := generatedRows(t, []meetsynth.Spec{sp}, opts)[id]
			t.Logf("%s DER %.1f %%, speakers %d/%d", r.File, 100*r.DER(), r.HypSpeakers, r.RefSpeakers)
			return r
		}
	}
	t.Fatalf("no meeting %s", id)
	return Result{}
}

// generatedRows renders the meetings of specs, diarizes them with opts
// and scores them (collar 0.25 s): one row per meeting and the TOTAL.
func generatedRows(t *testing.T, specs []meetsynth.Spec, opts diarize.Options) map[string]Result {
	t.Helper()
	if err := meetsynth.Available(); err != nil {
		t.Fatalf("%v (scripts/setup-debian.sh installs espeak-ng, flite and sox)", err)
	}
	ctx := context.Background()
	tmp := t.TempDir()
	der, err := BuildDER(ctx, tmp)
	if err != nil {
		t.Fatal(err)
	}
	set, err := GeneratedSet(ctx, "gen", specs, filepath.Join(tmp, "gen"))
	if err != nil {
		t.Fatal(err)
	}
	hyp := filepath.Join(tmp, "hyp")
	if err := Diarize(ctx, set, hyp, opts); err != nil {
		t.Fatal(err)
	}
	res, err := Score(ctx, der, set, hyp, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := byFile(res, set.IDs)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// Given each meeting's true speaker count, the diarizer finds exactly
// that many speakers on every dev meeting.
func TestKnownCount(t *testing.T) {
	dev, res := scoreDev(t, DiarizeKnownCount)
	rows, err := byFile(res, dev.IDs)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range dev.IDs {
		if r := rows[id]; r.HypSpeakers != r.RefSpeakers {
			t.Errorf("%s: %d speakers found, %d given", id, r.HypSpeakers, r.RefSpeakers)
		} else {
			t.Logf("%s: DER %.1f %% with the count given", id, 100*r.DER())
		}
	}
}

// scoreDev diarizes the dev set's mixes with run and scores them (collar
// 0.25 s).
func scoreDev(t *testing.T, run func(ctx context.Context, dev Set, hyp string) error) (Set, []Result) {
	t.Helper()
	ctx := context.Background()
	tmp, der, dev := devScoring(t)
	hyp := filepath.Join(tmp, "hyp")
	if err := run(ctx, dev, hyp); err != nil {
		t.Fatal(err)
	}
	res, err := Score(ctx, der, dev, hyp, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	return dev, res
}

// The overlapped stretches' share of the score: scored against itself
// the reference misses nothing, and its overlapped stretches hold the
// 2 × 5.0 s the dev set's README lists (2.2 + 2.1 + 0.7 s, each speaker
// counted); the diarizer misses less than half of that speech — one
// speaker per frame would miss exactly half; the second speakers it
// labels over overlapped speech cover some of the rest (measured: 4.80 s
// of 9.81 s missed).
func TestScoreOutsideOverlap(t *testing.T) {
	ctx := context.Background()
	tmp, der, dev := devScoring(t)
	overlapped := func(hyp string) (speech, missed float64) {
		all, err := Score(ctx, der, dev, hyp, 0)
		if err != nil {
			t.Fatal(err)
		}
		out, err := ScoreOutsideOverlap(ctx, der, dev, hyp, 0)
		if err != nil {
			t.Fatal(err)
		}
		a, o := all[len(all)-1], out[len(out)-1]
		if o.Total <= 0 || o.Total >= a.Total {
			t.Fatalf("scored speech outside overlap %.2f s of %.2f s", o.Total, a.Total)
		}
		return a.Total - o.Total, a.Missed - o.Missed
	}
	speech, missed := overlapped(dev.RTTMDir)
	if speech < 9.5 || speech > 10.5 || missed != 0 {
		t.Errorf("reference against itself: %.2f s in overlapped stretches, %.2f s missed; want 10 ± 0.5 s, 0", speech, missed)
	}
	hyp := filepath.Join(tmp, "hyp")
	if err := Diarize(ctx, dev, hyp, diarize.Options{}); err != nil {
		t.Fatal(err)
	}
	if s, m := overlapped(hyp); math.Abs(s-speech) > 1e-6 || !(m < s/2) {
		t.Errorf("diarizer: %.2f s in overlapped stretches (reference %.2f s), %.2f s missed, want less than half", s, speech, m)
	} else {
		t.Logf("diarizer: %.2f s of %.2f s overlapped speech missed", m, s)
	}
}

// devScoring returns a temporary directory, the der scorer built in it
// and the dev set.
func devScoring(t *testing.T) (string, string, Set) {
	t.Helper()
	tmp := t.TempDir()
	der, err := BuildDER(context.Background(), tmp)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := DevSet()
	if err != nil {
		t.Fatal(err)
	}
	return tmp, der, dev
}

// The count survives a 10 ms shift of the input: hard-tune-fr-04 (three
// French voices in a big room, Opus 24 kb/s) was found as 3 speakers, and
// as 8 when 10 ms of silence came first, because one background model's
// EM ended elsewhere; the embeddings are now averaged over four models
// (count.go, ensembleEmbed).
func TestCountSurvivesShift(t *testing.T) {
	if err := meetsynth.Available(); err != nil {
		t.Fatalf("%v (scripts/setup-debian.sh installs espeak-ng, flite and sox)", err)
	}
	var spec meetsynth.Spec
	for _, sp := range meetsynth.HardTune() {
		if sp.ID == "hard-tune-fr-04" {
			spec = sp
		}
	}
	ctx := context.Background()
	dir := t.TempDir()
	set, err := GeneratedSet(ctx, "gen", []meetsynth.Spec{spec}, dir)
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := audiofile.ReadAll(set.Audio[spec.ID])
	if err != nil {
		t.Fatal(err)
	}
	shifted := append(make([]float32, meetsynth.SampleRate/100), x...)
	for name, samples := range map[string][]float32{"original": x, "shifted by 10 ms": shifted} {
		turns, err := diarize.Diarize(ctx, samples, diarize.Options{})
		if err != nil {
			t.Fatal(err)
		}
		speakers := map[string]bool{}
		for _, tr := range turns {
			speakers[tr.Speaker] = true
		}
		if len(speakers) != len(spec.Participants) {
			t.Errorf("%s, %s: %d speakers found for %d", spec.ID, name, len(speakers), len(spec.Participants))
		}
	}
}
