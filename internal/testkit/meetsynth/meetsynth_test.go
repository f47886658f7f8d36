package meetsynth

import (
	"context"
	"math"
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
