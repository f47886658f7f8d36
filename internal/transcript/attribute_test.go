package transcript

import "testing"

func TestAttributeSplitsAtSpeakerChange(t *testing.T) {
	// One recognised utterance from the mix: "hello there | yes indeed",
	// the second half spoken by someone else.
	segs := []Segment{{Speaker: "mix", Start: 1, End: 5, Text: "hello there yes indeed", Words: []Word{
		{"hello", 1.0, 1.5}, {"there", 1.5, 2.0}, {"yes", 3.0, 3.5}, {"indeed", 3.5, 5.0},
	}}, {Speaker: "mix", Start: 20, End: 21, Text: "far away", Words: []Word{{"far", 20, 20.5}, {"away", 20.5, 21}}},
		{Speaker: "mix", Start: 6, End: 7, Text: "no words"}}
	turns := []Turn{{"SPEAKER_1", 0.9, 2.2}, {"SPEAKER_2", 2.4, 5.2}, {"SPEAKER_1", 6.1, 7}}
	got := Attribute(segs, turns)
	want := []struct {
		spk, text string
		start     float64
	}{{"SPEAKER_1", "hello there", 1}, {"SPEAKER_2", "yes indeed", 3}, {"SPEAKER_1", "no words", 6}, {"mix", "far away", 20}}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i, w := range want {
		if got[i].Speaker != w.spk || got[i].Text != w.text || got[i].Start != w.start {
			t.Errorf("%d: %+v, want %+v", i, got[i], w)
		}
	}
}

func TestAttributeNearestTurnAndNeighbours(t *testing.T) {
	// "uh" falls in a gap between turns: it goes to the nearest (0.3 s).
	segs := []Segment{{Start: 0, End: 3, Words: []Word{{"a", 0, 0.5}, {"uh", 1.6, 1.7}, {"b", 2.5, 3}}}}
	got := Attribute(segs, []Turn{{"S1", 0, 1.3}, {"S2", 2.4, 3}})
	if len(got) != 2 || got[0].Text != "a uh" || got[1].Text != "b" || got[1].Speaker != "S2" {
		t.Fatalf("%+v", got)
	}
	if Attribute(segs, nil)[0].Speaker != "" {
		t.Fatal("no turns must leave segments alone")
	}
}
