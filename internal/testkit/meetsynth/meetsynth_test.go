package meetsynth

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
)

// A small generated meeting: the reference covers each participant's
// speech and nothing else, the mix is the stems plus the noise floor.
func TestGenerate(t *testing.T) {
	if err := Available(); err != nil {
		t.Fatalf("%v (scripts/setup-debian.sh installs them)", err)
	}
	spec := Spec{ID: "t", Seed: 5, Turns: 4, Sentences: English[:4], InterruptProb: 0.5, NoiseFloorDBFS: -66,
		Participants: []Participant{
			{Label: "a", Voice: Voice{Engine: "espeak", Name: "en-us+f3"}, LevelDBFS: -22},
			{Label: "b", Voice: Voice{Engine: "flite", Name: "kal16"}, LevelDBFS: -25},
		}}
	m, err := Generate(context.Background(), spec, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Mix) != int(math.Round(m.Duration*SampleRate)) || m.Duration < 5 {
		t.Fatalf("mix of %d samples, duration %.2f s", len(m.Mix), m.Duration)
	}
	speakers := map[string]bool{}
	for _, s := range m.Ref {
		speakers[s.Speaker] = true
		if s.End <= s.Start || s.Start < 0 || s.End > m.Duration {
			t.Errorf("bad reference segment %+v", s)
		}
		// The stem is active inside its segment and the segment is where
		// the mix carries that speech.
		x := m.Stems[s.Speaker][int(s.Start*SampleRate):int(s.End*SampleRate)]
		e := 0.0
		for _, v := range x {
			e += float64(v) * float64(v)
		}
		if db := 10 * math.Log10(e/float64(len(x))+1e-20); db < -45 {
			t.Errorf("segment %+v: stem level %.1f dBFS", s, db)
		}
	}
	if !speakers["a"] || !speakers["b"] {
		t.Errorf("reference speakers %v", speakers)
	}
	// Outside every reference segment, the stems are silent.
	inRef := make([]bool, len(m.Mix))
	for _, s := range m.Ref {
		for i := int(s.Start * SampleRate); i < int(s.End*SampleRate); i++ {
			inRef[i] = true
		}
	}
	for name, x := range m.Stems {
		for i, v := range x {
			if !inRef[i] && math.Abs(float64(v)) > 0.01 {
				t.Fatalf("stem %s: sample %d (%.2f s) = %.3f outside the reference", name, i, float64(i)/SampleRate, v)
			}
		}
	}
}

// The hard sets' conditions: talk-time weights, French back-channels, a
// voice changed by a sox effect, a reverberant room with noise, and the
// mix through Opus, which must stay aligned with the reference.
func TestGenerateRoomAndOpus(t *testing.T) {
	if err := Available(); err != nil {
		t.Fatalf("%v (scripts/setup-debian.sh installs them)", err)
	}
	ctx := context.Background()
	spec := Spec{ID: "t", Seed: 7, Turns: 8, Sentences: French[:4], Backchannels: FrenchBackchannels, BackchannelProb: 1,
		NoiseFloorDBFS: -66, Reverb: smallRoom, RoomNoiseDBFS: -50,
		Participants: []Participant{
			lv("a", es("fr-fr+f2"), -20, 4),
			lv("b", fx(es("fr-fr+f2"), "pitch", "-300"), -35, 1),
		}}
	dry, err := Generate(ctx, spec, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec.OpusKbps = 16
	coded, err := Generate(ctx, spec, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(coded.Mix) != len(dry.Mix) || coded.Duration != dry.Duration || len(coded.Ref) != len(dry.Ref) {
		t.Fatalf("Opus changed the meeting's length or reference: %d vs %d samples", len(coded.Mix), len(dry.Mix))
	}
	if dry.Voices["a"] == dry.Voices["b"] {
		t.Errorf("a sox effect does not make another voice: %q", dry.Voices["b"])
	}
	talk := map[string]float64{}
	for _, s := range dry.Ref {
		talk[s.Speaker] += s.End - s.Start
	}
	if share := talk["a"] / (talk["a"] + talk["b"]); share < 0.6 {
		t.Errorf("a, weighted 4:1, talks %.0f %% of the time", 100*share)
	}
	// The coded mix lines up with the uncoded one (the encoder's pre-skip
	// removed): correlation best at lag 0.
	corr := func(lag int) float64 {
		var xy, xx, yy float64
		for i := 16000; i+lag < len(dry.Mix)-16000; i++ {
			x, y := float64(dry.Mix[i]), float64(coded.Mix[i+lag])
			xy, xx, yy = xy+x*y, xx+x*x, yy+y*y
		}
		return xy / math.Sqrt(xx*yy)
	}
	c0 := corr(0)
	if c0 < 0.8 {
		t.Errorf("Opus-coded mix correlates %.2f with the uncoded one", c0)
	}
	for _, lag := range []int{-160, -16, -1, 1, 16, 160} {
		if c := corr(lag); c >= c0 {
			t.Errorf("Opus-coded mix lines up better %d samples off (%.3f) than at 0 (%.3f)", lag, c, c0)
		}
	}
	// Room noise fills the pauses; the reverberant stems ring past the
	// dry speech but stay the meeting's length.
	for name, x := range dry.Stems {
		if len(x) != len(dry.Mix) {
			t.Errorf("stem %s: %d samples, mix %d", name, len(x), len(dry.Mix))
		}
	}
	quiet := dry.Mix[:int(0.5*SampleRate)]
	e := 0.0
	for _, v := range quiet {
		e += float64(v) * float64(v)
	}
	if db := 10 * math.Log10(e/float64(len(quiet))); db < -53 || db > -47 {
		t.Errorf("leading silence at %.1f dBFS, want the room noise's −50", db)
	}
}

// A real-voice turn is two to four of that person's recordings, the same
// for the same text and another for another text; a back-channel is one;
// a meeting of the real voices has each one's speech in its reference.
func TestRealVoices(t *testing.T) {
	if err := RealAvailable(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	one, err := Synthesize(ctx, june, "main turn number 7", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Synthesize(ctx, june, "main turn number 7", t.TempDir())
	other, _ := Synthesize(ctx, june, "main turn number 8", t.TempDir())
	bc, _ := Synthesize(ctx, june, "oui", t.TempDir())
	if len(one) < SampleRate || len(one) != len(again) || len(one) == len(other) {
		t.Errorf("turns of %d, %d (same text) and %d samples (another)", len(one), len(again), len(other))
	}
	if len(bc) == 0 || len(bc) >= len(one) {
		t.Errorf("a back-channel of %d samples, a turn %d", len(bc), len(one))
	}
	spec := RealTest()[1]
	spec.Turns = 6
	m, err := Generate(ctx, spec, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	talk := map[string]float64{}
	for _, s := range m.Ref {
		talk[s.Speaker] += s.End - s.Start
	}
	if len(talk) < 2 || m.Duration < 10 {
		t.Errorf("%.1f s, reference talk %v", m.Duration, talk)
	}
	t.Logf("%.1f s, talk %v", m.Duration, talk)
}

// Every espeak-ng voice the corpora name with a variant ("fr+f3")
// sounds different from the plain language voice: espeak-ng silently
// dropped the variant of "fr-fr+f1" and "en-gb+f3", which made several
// "different" French speakers one voice at different pitches.
func TestEspeakVariantsApply(t *testing.T) {
	if err := Available(); err != nil {
		t.Fatalf("%v (scripts/setup-debian.sh installs them)", err)
	}
	seen := map[string]bool{}
	for _, set := range [][]Spec{Tune(), HeldOut(), HardTune(), HardTest()} {
		for _, sp := range set {
			for _, p := range sp.Participants {
				v := p.Voice
				base, _, ok := strings.Cut(v.Name, "+")
				if v.Engine != "espeak" || !ok || seen[v.Name] {
					continue
				}
				seen[v.Name] = true
				text := "Bonjour, je pense que nous pouvons commencer."
				with, err := Synthesize(context.Background(), Voice{Engine: "espeak", Name: v.Name}, text, t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				plain, err := Synthesize(context.Background(), Voice{Engine: "espeak", Name: base}, text, t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				if slices.Equal(with, plain) {
					t.Errorf("%s (in %s) renders exactly as %s: the variant is not applied", v.Name, sp.ID, base)
				}
			}
		}
	}
	if len(seen) < 20 {
		t.Fatalf("only %d espeak-ng variants checked", len(seen))
	}
}
