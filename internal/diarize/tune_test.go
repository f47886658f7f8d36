package diarize

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/testkit/devset"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
)

// TestTuneHarness is the harness the constants were chosen with, not a
// check: it runs only when PARLEY_DIARIZE_TUNE names a work directory.
// It diarizes the dev mixes and the generated tuning meetings (and the
// held-out ones with PARLEY_DIARIZE_HELDOUT=1, the hard tuning meetings
// with PARLEY_DIARIZE_HARD=1) with the parameters
// overridden by PARLEY_DIARIZE_SET="name=value,…", and prints the DER of
// each file (collar 0.25 s and 0) with the shared der scorer (devset.ToolsDir).
//
//	PARLEY_DIARIZE_TUNE=/tmp/dz PARLEY_DIARIZE_SET=mergeRatio=2 go test -run TestTuneHarness -v ./internal/diarize
func TestTuneHarness(t *testing.T) {
	out := os.Getenv("PARLEY_DIARIZE_TUNE")
	if out == "" {
		t.Skip("tuning harness: set PARLEY_DIARIZE_TUNE to a work directory")
	}
	p := tuneParams(t)
	der := buildDER(t, out)
	ctx := context.Background()
	ms, err := devset.Meetings()
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := devset.Dir()
	for _, m := range ms {
		hypFile(t, ctx, filepath.Join(out, "dev", "hyp"), m.ID, m.Mix, p)
	}
	score(t, der, "dev", filepath.Join(dir, "rttm"), filepath.Join(out, "dev", "hyp"), filepath.Join(dir, "uem"))
	sets := map[string][]meetsynth.Spec{"tune": meetsynth.Tune()}
	if os.Getenv("PARLEY_DIARIZE_HELDOUT") != "" {
		sets["held"] = meetsynth.HeldOut()
	}
	if os.Getenv("PARLEY_DIARIZE_HARD") != "" {
		sets["hard-tune"] = meetsynth.HardTune()
	}
	for _, name := range []string{"tune", "held", "hard-tune"} {
		specs, ok := sets[name]
		if !ok {
			continue
		}
		gen := filepath.Join(out, name)
		for _, sp := range specs {
			wav := filepath.Join(gen, "audio", sp.ID+".wav")
			if _, err := os.Stat(wav); err != nil {
				m, err := meetsynth.Generate(ctx, sp, t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				if err := m.Save(gen); err != nil {
					t.Fatal(err)
				}
			}
			hypFile(t, ctx, filepath.Join(gen, "hyp"), sp.ID, wav, p)
		}
		score(t, der, name, filepath.Join(gen, "rttm"), filepath.Join(gen, "hyp"), filepath.Join(gen, "uem"))
	}
}

func tuneParams(t *testing.T) *params {
	p := defaultParams
	set := map[string]func(v float64){
		"changeThreshold": func(v float64) { p.changeThreshold = v },
		"bicLambda":       func(v float64) { p.bicLambda = v },
		"initClusters":    func(v float64) { p.initClusters = int(v) },
		"mergeRatio":      func(v float64) { p.mergeRatio = v },
		"mergeDivergence": func(v float64) { p.mergeDivergence = v },
		"minTurnFrames":   func(v float64) { p.minTurnFrames = int(v) },
		"sandwichFrac":    func(v float64) { p.sandwichFrac = v },
		"ubmComponents":   func(v float64) { p.ubmComponents = int(v) },
		"topC":            func(v float64) { p.topC = int(v) },
		"relevance":       func(v float64) { p.relevance = v },
		"switchPenalty":   func(v float64) { p.switchPenalty = v },
		"resegIters":      func(v float64) { p.resegIters = int(v) },
		"finalIters":      func(v float64) { p.finalIters = int(v) },
		"loopStep":        func(v float64) { p.loopStep = int(v) },
		"dissolveDiv":     func(v float64) { p.dissolveDiv = int(v) },
		"transitionRun":   func(v float64) { p.transitionRun = int(v) },
		"transitionShare": func(v float64) { p.transitionShare = v },
	}
	for _, kv := range strings.Split(os.Getenv("PARLEY_DIARIZE_SET"), ",") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if set[k] == nil || err != nil {
			t.Fatalf("bad setting %q", kv)
		}
		set[k](f)
	}
	return &p
}

// buildDER builds the shared scorer into dir.
func buildDER(t *testing.T, dir string) string {
	tools, err := devset.ToolsDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "der")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/der")
	cmd.Dir = tools
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building der: %v\n%s", err, out)
	}
	return bin
}

func hypFile(t *testing.T, ctx context.Context, dir, id, wav string, p *params) {
	r, err := audiofile.Open(wav)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	turns, err := diarize(ctx, r, Options{}, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, id+".rttm"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := WriteRTTM(f, id, turns); err != nil {
		t.Fatal(err)
	}
}

type derComponents struct {
	File                     string
	Total, Missed, Confusion float64
	FalseAlarm               float64  `json:"false_alarm"`
	Ref                      []string `json:"ref_speakers"`
	Hyp                      []string `json:"hyp_speakers"`
}

func runDER(t *testing.T, der, ref, hyp, uem, collar string) ([]derComponents, derComponents) {
	out, err := exec.Command(der, "-ref", ref, "-hyp", hyp, "-uem", uem, "-collar", collar, "-json").Output()
	if err != nil {
		t.Fatalf("der: %v %s", err, out)
	}
	var r struct {
		Files []derComponents
		Total struct{ Components derComponents }
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r.Files, r.Total.Components
}

func score(t *testing.T, der, name, ref, hyp, uem string) {
	f25, t25 := runDER(t, der, ref, hyp, uem, "0.25")
	f0, t0 := runDER(t, der, ref, hyp, uem, "0")
	pc := func(x, tot float64) float64 { return 100 * x / tot }
	for i, f := range f25 {
		g := f0[i]
		fmt.Printf("%-12s DER %5.1f (ms %4.1f fa %4.1f sc %5.1f) | c0 %5.1f (ms %4.1f fa %4.1f sc %4.1f) | spk %d/%d\n", f.File,
			pc(f.Missed+f.FalseAlarm+f.Confusion, f.Total), pc(f.Missed, f.Total), pc(f.FalseAlarm, f.Total), pc(f.Confusion, f.Total),
			pc(g.Missed+g.FalseAlarm+g.Confusion, g.Total), pc(g.Missed, g.Total), pc(g.FalseAlarm, g.Total), pc(g.Confusion, g.Total),
			len(f.Hyp), len(f.Ref))
	}
	fmt.Printf("%-12s DER %5.1f %28s | c0 %5.1f\n", name+" TOTAL", pc(t25.Missed+t25.FalseAlarm+t25.Confusion, t25.Total), "", pc(t0.Missed+t0.FalseAlarm+t0.Confusion, t0.Total))
}
