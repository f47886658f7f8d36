package meetsynth

// The hard sets (issue 13): meetings built to break a diarizer the way
// real ones do — French as much as English, 2 to 8 speakers, 1 minute to
// 1 hour, one person holding 60 % of the talk, short back-channels in
// both languages, rooms with reverberation and noise, speakers 20 dB
// apart, the mix through Opus at 16–32 kb/s as a shared microphone's
// track arrives, and voices made different with pitch, rate, variant and
// sox pitch shifts. HardTune is what constants may be chosen on;
// HardTest is only ever scored. Their voices are disjoint (flite slt and
// rms, espeak-ng variants m1/m3/m5/f1/f3/f5 and the named ones below only
// in HardTune; flite awb, kal, kal16 and m2/m4/m6/f2/f4 and the other
// named variants only in HardTest), and so are their seeds. IDs say the
// language (hard-<set>-en-… / hard-<set>-fr-…).
//
// About 11 main turns make a minute.

// lv is a participant with a talk-time weight.
func lv(label string, v Voice, level, weight float64) Participant {
	return Participant{Label: label, Voice: v, LevelDBFS: level, Weight: weight}
}

func fx(v Voice, effects ...string) Voice { v.Effects = effects; return v }

// Rooms: sox reverb (reverberance %, HF damping %, room scale %).
var (
	smallRoom = []string{"30", "50", "40"}
	bigRoom   = []string{"60", "40", "90"}
)

// HardTune lists the hard meetings constants may be chosen on.
func HardTune() []Spec {
	return []Spec{
		{ID: "hard-tune-en-01", Seed: 401, Turns: 11, Sentences: English, BackchannelProb: 0.4, InterruptProb: 0.2, NoiseFloorDBFS: -66,
			Participants: []Participant{
				lv("al", fl("slt"), -21, 3),
				lv("bea", es("en-us+m1", "-s", "150"), -24, 1),
			}},
		{ID: "hard-tune-fr-02", Seed: 402, Turns: 22, Sentences: French, Backchannels: FrenchBackchannels, BackchannelProb: 0.5, InterruptProb: 0.25, NoiseFloorDBFS: -66, OpusKbps: 16,
			Participants: []Participant{
				p("claire", es("fr-fr+f1", "-p", "60"), -22),
				p("denis", es("fr-be+m1", "-s", "150"), -25),
			}},
		{ID: "hard-tune-en-03", Seed: 403, Turns: 55, Sentences: English, BackchannelProb: 0.3, InterruptProb: 0.2, NoiseFloorDBFS: -66, Reverb: smallRoom, RoomNoiseDBFS: -50,
			Participants: []Participant{
				p("eve", es("en-gb+f3", "-p", "55"), -18),
				p("finn", fl("rms"), -38),
				p("gwen", es("en-029+linda"), -24),
				p("hugh", es("en-gb-x-rp+max", "-s", "165"), -30),
			}},
		{ID: "hard-tune-fr-04", Seed: 404, Turns: 55, Sentences: French, Backchannels: FrenchBackchannels, BackchannelProb: 0.4, InterruptProb: 0.25, NoiseFloorDBFS: -66, Reverb: bigRoom, OpusKbps: 24,
			Participants: []Participant{
				lv("ines", es("fr-fr+f3", "-p", "65"), -22, 4),
				lv("jules", es("fr-ch+michel", "-s", "155"), -24, 1.5),
				lv("koffi", es("fr-be+m3"), -21, 1.5),
			}},
		{ID: "hard-tune-en-05", Seed: 405, Turns: 110, Sentences: English, BackchannelProb: 0.3, InterruptProb: 0.2, NoiseFloorDBFS: -66, RoomNoiseDBFS: -55, OpusKbps: 32,
			Participants: []Participant{
				p("liam", fx(fl("slt"), "pitch", "-350"), -22),
				p("mona", fx(fl("rms"), "pitch", "300"), -23),
				p("nils", es("en-us+Andy", "-s", "170"), -21),
				p("opal", es("en-gb+f5", "-p", "45"), -25),
				p("pete", es("en-us+m5", "-p", "30"), -20),
				p("rosa", es("en-gb-scotland+steph"), -24),
			}},
		{ID: "hard-tune-fr-06", Seed: 406, Turns: 110, Sentences: French, Backchannels: FrenchBackchannels, BackchannelProb: 0.5, InterruptProb: 0.2, NoiseFloorDBFS: -66, Reverb: smallRoom,
			Participants: []Participant{
				p("sacha", es("fr-fr+m5", "-s", "165"), -18),
				p("tara", es("fr-fr+f5", "-p", "55"), -38),
				p("ugo", fx(es("fr-be+m1"), "tempo", "1.1"), -26),
				p("vera", es("fr-ch+Annie", "-p", "60"), -30),
				p("willy", fx(es("fr-fr+m3", "-p", "35"), "pitch", "-150"), -22),
			}},
		{ID: "hard-tune-en-07", Seed: 407, Turns: 220, Sentences: English, BackchannelProb: 0.4, InterruptProb: 0.25, NoiseFloorDBFS: -66, Reverb: bigRoom, RoomNoiseDBFS: -52, OpusKbps: 24,
			Participants: []Participant{
				lv("xavi", es("en-us+m1", "-s", "160"), -20, 5),
				lv("yara", fl("slt"), -23, 1),
				lv("zeke", fl("rms"), -35, 1),
				lv("abby", es("en-gb+f1", "-p", "70"), -25, 1),
				lv("bart", es("en-gb-x-rp+m3", "-s", "145"), -28, 1),
				lv("cleo", es("en-029+f3", "-s", "175"), -22, 1),
				lv("dirk", fx(es("en-us+m5"), "pitch", "-200"), -30, 1),
				lv("edie", fx(fl("slt"), "pitch", "250", "tempo", "0.9"), -24, 1),
			}},
		{ID: "hard-tune-fr-08", Seed: 408, Turns: 330, Sentences: French, Backchannels: FrenchBackchannels, BackchannelProb: 0.4, InterruptProb: 0.2, NoiseFloorDBFS: -66, RoomNoiseDBFS: -55, OpusKbps: 20,
			Participants: []Participant{
				p("fanny", es("fr-fr+f1", "-p", "50"), -21),
				p("gaston", es("fr-be+m5", "-s", "140"), -24),
				p("helene", es("fr-ch+f3", "-p", "65", "-s", "170"), -22),
				p("igor", es("fr-fr+m1", "-p", "25"), -27),
			}},
	}
}

// HardTest lists the hard meetings that are scored, never tuned on.
func HardTest() []Spec {
	return []Spec{
		{ID: "hard-test-en-01", Seed: 501, Turns: 11, Sentences: English, BackchannelProb: 0.4, InterruptProb: 0.2, NoiseFloorDBFS: -66, Reverb: smallRoom, OpusKbps: 16,
			Participants: []Participant{
				p("jade", fl("awb"), -22),
				p("kurt", es("en-us+m2", "-s", "155"), -24),
			}},
		{ID: "hard-test-fr-02", Seed: 502, Turns: 11, Sentences: French, Backchannels: FrenchBackchannels, BackchannelProb: 0.5, InterruptProb: 0.2, NoiseFloorDBFS: -66,
			Participants: []Participant{
				lv("lucie", es("fr-fr+f2", "-p", "60"), -18, 3),
				lv("marius", es("fr-be+m4", "-s", "150"), -38, 1),
			}},
		{ID: "hard-test-en-03", Seed: 503, Turns: 33, Sentences: English, BackchannelProb: 0.6, InterruptProb: 0.25, NoiseFloorDBFS: -66, RoomNoiseDBFS: -48,
			Participants: []Participant{
				p("noor", es("en-gb+f2", "-p", "55"), -21),
				p("olaf", fl("kal16"), -25),
				p("pam", es("en-us+belinda"), -23),
			}},
		{ID: "hard-test-fr-04", Seed: 504, Turns: 55, Sentences: French, Backchannels: FrenchBackchannels, BackchannelProb: 0.4, InterruptProb: 0.25, NoiseFloorDBFS: -66, Reverb: bigRoom, OpusKbps: 24,
			Participants: []Participant{
				p("quentin", es("fr-fr+m4", "-s", "160"), -22),
				p("rachel", es("fr-ch+f4", "-p", "60"), -24),
				p("simon", es("fr-be+gustave"), -21),
				p("therese", es("fr-fr+f2", "-p", "40", "-s", "140"), -26),
			}},
		{ID: "hard-test-en-05", Seed: 505, Turns: 110, Sentences: English, BackchannelProb: 0.3, InterruptProb: 0.2, NoiseFloorDBFS: -66, OpusKbps: 32,
			Participants: []Participant{
				lv("uma", fl("kal"), -20, 4),
				lv("vince", fl("awb"), -40, 1.5),
				lv("wren", es("en-us+f4", "-p", "65"), -26, 1.5),
				lv("xena", es("en-gb-x-gbclan+anika"), -30, 1.5),
				lv("yuri", es("en-us+m6", "-s", "175"), -24, 1.5),
			}},
		{ID: "hard-test-fr-06", Seed: 506, Turns: 165, Sentences: French, Backchannels: FrenchBackchannels, BackchannelProb: 0.4, InterruptProb: 0.2, NoiseFloorDBFS: -66, Reverb: smallRoom, RoomNoiseDBFS: -50,
			Participants: []Participant{
				p("amelie", es("fr-fr+f4", "-p", "70"), -22),
				p("basile", fx(es("fr-be+m2"), "pitch", "-150"), -23),
				p("cecile", fx(es("fr-ch+f2"), "tempo", "0.9"), -25),
				p("damien", es("fr-fr+m6", "-s", "170"), -21),
				p("elsa", es("fr-fr+belinda", "-p", "55"), -27),
				p("fabien", es("fr-ch+adam", "-p", "30"), -24),
			}},
		{ID: "hard-test-en-07", Seed: 507, Turns: 220, Sentences: English, BackchannelProb: 0.4, InterruptProb: 0.25, NoiseFloorDBFS: -66, Reverb: bigRoom, RoomNoiseDBFS: -52, OpusKbps: 24,
			Participants: []Participant{
				lv("gail", fl("awb"), -22, 5),
				lv("hank", fl("kal16"), -36, 1),
				lv("iris", es("en-us+f2", "-p", "60"), -24, 1),
				lv("joel", es("en-gb+m4", "-s", "150"), -28, 1),
				lv("kim", fx(fl("kal"), "pitch", "300"), -20, 1),
				lv("lars", es("en-gb-scotland+m6"), -26, 1),
				lv("maya", es("en-029+f4", "-s", "170"), -30, 1),
				lv("ned", fx(fl("awb"), "pitch", "-250"), -23, 1),
			}},
		{ID: "hard-test-en-08", Seed: 508, Turns: 650, Sentences: English, BackchannelProb: 0.3, InterruptProb: 0.2, NoiseFloorDBFS: -66, Reverb: smallRoom, RoomNoiseDBFS: -55, OpusKbps: 24,
			Participants: []Participant{
				lv("olive", es("en-us+f2", "-p", "55"), -21, 3),
				lv("paco", fl("kal16"), -24, 1),
				lv("quin", fl("awb"), -22, 1),
				lv("rita", es("en-gb+f4", "-p", "65", "-s", "165"), -27, 1),
				lv("stan", es("en-us+m4", "-s", "145"), -23, 1),
				lv("tess", fx(fl("kal"), "pitch", "350"), -25, 1),
			}},
	}
}
