package diarizebench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parleyhq/parley/internal/testkit/meetsynth"
)

// HourSpec is the meeting the one-hour speed run tiles: six participants,
// about ten minutes. It shares voices with the generated sets but was
// never scored while choosing constants.
func HourSpec() meetsynth.Spec {
	p := func(label string, v meetsynth.Voice, level float64) meetsynth.Participant {
		return meetsynth.Participant{Label: label, Voice: v, LevelDBFS: level}
	}
	return meetsynth.Spec{ID: "hour-base", Seed: 301, Turns: 110, Sentences: meetsynth.English,
		BackchannelProb: 0.2, InterruptProb: 0.15, NoiseFloorDBFS: -66,
		Participants: []meetsynth.Participant{
			p("ada", meetsynth.Voice{Engine: "flite", Name: "slt"}, -21),
			p("bo", meetsynth.Voice{Engine: "espeak", Name: "en-us+m3", Args: []string{"-s", "160"}}, -24),
			p("cy", meetsynth.Voice{Engine: "flite", Name: "awb"}, -22),
			p("di", meetsynth.Voice{Engine: "espeak", Name: "en-gb+f4", Args: []string{"-p", "60"}}, -23),
			p("ed", meetsynth.Voice{Engine: "flite", Name: "rms"}, -20),
			p("flo", meetsynth.Voice{Engine: "espeak", Name: "en-029+f2", Args: []string{"-s", "170"}}, -25),
		}}
}

// hourStampSpec is HourSpec under the hour file's ID, for its stamp.
func hourStampSpec() meetsynth.Spec {
	sp := HourSpec()
	sp.ID = "hour"
	return sp
}

// HourFile returns dir/audio/hour.wav (and its RTTM and UEM), a meeting
// of at least seconds built by repeating HourSpec's meeting; it is made
// once and reused.
func HourFile(ctx context.Context, dir string, seconds float64) (Set, error) {
	s := Set{Name: "hour", IDs: []string{"hour"}, Audio: map[string]string{"hour": filepath.Join(dir, "audio", "hour.wav")},
		RTTMDir: filepath.Join(dir, "rttm"), UEMDir: filepath.Join(dir, "uem")}
	if rendered(dir, hourStampSpec()) {
		return s, nil
	}
	tmp, err := os.MkdirTemp("", "meetsynth")
	if err != nil {
		return Set{}, err
	}
	defer os.RemoveAll(tmp)
	base, err := meetsynth.Generate(ctx, HourSpec(), tmp)
	if err != nil {
		return Set{}, err
	}
	n := 1
	for float64(n)*base.Duration < seconds {
		n++
	}
	m := &meetsynth.Meeting{ID: "hour", Mix: make([]float32, 0, n*len(base.Mix))}
	for i := range n {
		off := float64(i) * base.Duration
		m.Mix = append(m.Mix, base.Mix...)
		for _, r := range base.Ref {
			m.Ref = append(m.Ref, meetsynth.Segment{Speaker: r.Speaker, Start: r.Start + off, End: r.End + off})
		}
	}
	m.Duration = float64(n) * base.Duration
	if err := m.Save(dir); err != nil {
		return Set{}, fmt.Errorf("saving the hour file: %w", err)
	}
	return s, stamp(dir, hourStampSpec())
}
