package diarize

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/diarize/meetsynth"

	"github.com/parleyhq/parley/internal/devset"
)

func TestExpFrameStats(t *testing.T) {
	if os.Getenv("PARLEY_DIARIZE_EXP") == "" {
		t.Skip("experiment")
	}
	ms, err := devset.Meetings()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		x, err := readWAV16(m.Mix)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := analyze(context.Background(), x)
		f, _ := os.Open(m.RTTM)
		recs, _ := ReadRTTM(f)
		f.Close()
		lab := make([]int, a.n) // 0 silence, 1 speech, 2 near-alsa noise
		for _, r := range recs {
			for t := int(r.Start * 100); t < int(r.End*100) && t < a.n; t++ {
				lab[t] = 1
			}
		}
		for _, r := range recs {
			if r.Speaker != "alsa" {
				continue
			}
			for t := int((r.Start - 0.5) * 100); t < int((r.End+0.5)*100) && t < a.n; t++ {
				if t >= 0 && lab[t] == 0 {
					lab[t] = 2
				}
			}
		}
		for c := range 3 {
			var es, vs []float64
			for t := range a.n {
				if lab[t] == c {
					es = append(es, float64(a.energy[t]))
					vs = append(vs, float64(a.voicing[t]))
				}
			}
			if len(es) == 0 {
				continue
			}
			sort.Float64s(es)
			sort.Float64s(vs)
			q := func(s []float64, p float64) float64 { return s[int(p*float64(len(s)-1))] }
			fmt.Printf("%s class %d n=%d energy p5 %.1f p50 %.1f p95 %.1f | voicing p5 %.3f p50 %.3f p90 %.3f p99 %.3f\n",
				m.ID, c, len(es), q(es, .05), q(es, .5), q(es, .95), q(vs, .05), q(vs, .5), q(vs, .9), q(vs, .99))
		}
	}
}

// expParams applies PARLEY_DIARIZE_SET ("name=value,name=value") to the
// default parameters.
func expParams(t *testing.T) *params {
	p := defaultParams
	set := map[string]func(v float64){
		"voicedCPP": func(v float64) { p.voicedCPP = float32(v) }, "voicePad": func(v float64) { p.voicePad = int(v) },
		"maxUnvoicedRun": func(v float64) { p.maxUnvoicedRun = int(v) }, "changeThreshold": func(v float64) { p.changeThreshold = v },
		"changeWin": func(v float64) { p.changeWin = int(v) }, "bicLambda": func(v float64) { p.bicLambda = v }, "clrThreshold": func(v float64) { p.clrThreshold = v },
		"minClusterFrames": func(v float64) { p.minClusterFrames = int(v) }, "ubmComponents": func(v float64) { p.ubmComponents = int(v) },
		"relevance": func(v float64) { p.relevance = v }, "switchPenalty": func(v float64) { p.switchPenalty = v },
		"resegIters":   func(v float64) { p.resegIters = int(v) },
		"initClusters": func(v float64) { p.initClusters = int(v) }, "mergeRatio": func(v float64) { p.mergeRatio = v }, "mergeDivergence": func(v float64) { p.mergeDivergence = v }, "minTurnFrames": func(v float64) { p.minTurnFrames = int(v) }, "changeGuard": func(v float64) { p.changeGuard = int(v) }, "sandwichFrac": func(v float64) { p.sandwichFrac = v },
		"mlModels": func(v float64) { p.mlModels = v != 0 }, "adaptML": func(v float64) { p.adaptML = v != 0 }, "finalAdaptML": func(v float64) { p.finalAdaptML = v != 0 }, "speakerIters": func(v float64) { p.speakerIters = int(v) }, "speakerGauss": func(v float64) { p.speakerGauss = int(v) }, "framesPerGauss": func(v float64) { p.framesPerGauss = int(v) },
		"awInit": func(v float64) { p.awInit = int(v) }, "cvMerge": func(v float64) { p.cvMerge = v != 0 }, "bicOnly": func(v float64) { p.bicOnly = v != 0 }, "ownFrontEnd": func(v float64) { p.ownFrontEnd = v != 0 }, "t2Threshold": func(v float64) { p.t2Threshold = v }, "cvThreshold": func(v float64) { p.cvThreshold = v }, "awThreshold": func(v float64) { p.awThreshold = v }, "awGauss": func(v float64) { p.awGauss = int(v) }, "awIters": func(v float64) { p.awIters = int(v) }, "awFramesPerGauss": func(v float64) { p.awFramesPerGauss = int(v) },
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

// TestExpRun diarizes the dev mixes and the generated tuning set into
// $PARLEY_DIARIZE_EXP/{dev,tune}/hyp and scores them with /tmp/der.
func TestExpRun(t *testing.T) {
	out := os.Getenv("PARLEY_DIARIZE_EXP")
	if out == "" {
		t.Skip("experiment")
	}
	p := expParams(t)
	debugMerges = os.Getenv("PARLEY_DIARIZE_DEBUG") != ""
	ctx := context.Background()
	ms, err := devset.Meetings()
	if err != nil {
		t.Fatal(err)
	}
	dev := filepath.Join(out, "dev")
	for _, m := range ms {
		x, err := readWAV16(m.Mix)
		if err != nil {
			t.Fatal(err)
		}
		writeHyp(t, ctx, filepath.Join(dev, "hyp"), m.ID, x, p)
	}
	d, _ := devset.Dir()
	score(t, "dev", filepath.Join(d, "rttm"), filepath.Join(dev, "hyp"), filepath.Join(d, "uem"))
	sets := [][]meetsynth.Spec{meetsynth.Tune()}
	names := []string{"tune"}
	if os.Getenv("PARLEY_DIARIZE_HELDOUT") != "" {
		sets = append(sets, meetsynth.HeldOut())
		names = append(names, "held")
	}
	for i, specs := range sets {
		gen := filepath.Join(out, names[i])
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
			x, err := readWAV16(wav)
			if err != nil {
				t.Fatal(err)
			}
			writeHyp(t, ctx, filepath.Join(gen, "hyp"), sp.ID, x, p)
		}
		score(t, names[i], filepath.Join(gen, "rttm"), filepath.Join(gen, "hyp"), filepath.Join(gen, "uem"))
	}
}

func writeHyp(t *testing.T, ctx context.Context, dir, id string, x []float32, p *params) {
	if debugMerges {
		fmt.Println(id)
	}
	if os.Getenv("PARLEY_DIARIZE_ORACLE") != "" {
		ref := filepath.Join(filepath.Dir(dir), "rttm", id+".rttm")
		if _, err := os.Stat(ref); err != nil {
			d, _ := devset.Dir()
			ref = filepath.Join(d, "rttm", id+".rttm")
		}
		f, _ := os.Open(ref)
		recs, _ := ReadRTTM(f)
		f.Close()
		spk := map[string]int{}
		lab := map[int]int{}
		for _, r := range recs {
			if _, ok := spk[r.Speaker]; !ok {
				spk[r.Speaker] = len(spk)
			}
			for t := int(r.Start * 100); t < int(r.End*100); t++ {
				if _, ok := lab[t]; ok {
					lab[t] = -1
				} else {
					lab[t] = spk[r.Speaker]
				}
			}
		}
		oracleLabels = func(t int) int {
			if l, ok := lab[t]; ok && l >= 0 {
				return l
			}
			return 0
		}
		defer func() { oracleLabels = nil }()
	}
	var opts Options
	if os.Getenv("PARLEY_DIARIZE_ORACLEK") != "" {
		ref := filepath.Join(filepath.Dir(dir), "rttm", id+".rttm")
		if _, err := os.Stat(ref); err != nil {
			d, _ := devset.Dir()
			ref = filepath.Join(d, "rttm", id+".rttm")
		}
		f, _ := os.Open(ref)
		recs, _ := ReadRTTM(f)
		f.Close()
		spk := map[string]bool{}
		for _, r := range recs {
			spk[r.Speaker] = true
		}
		opts.Speakers = len(spk)
	}
	turns, err := diarize(ctx, x, opts, p)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o755)
	f, _ := os.Create(filepath.Join(dir, id+".rttm"))
	WriteRTTM(f, id, turns)
	f.Close()
}

type derFile struct {
	File                     string
	Total, Missed, Confusion float64
	FalseAlarm               float64  `json:"false_alarm"`
	RefSpeakers              []string `json:"ref_speakers"`
	HypSpeakers              []string `json:"hyp_speakers"`
}

func runDER(t *testing.T, ref, hyp, uem, collar string) (files []derFile, total derFile) {
	out, err := exec.Command("/tmp/der", "-ref", ref, "-hyp", hyp, "-uem", uem, "-collar", collar, "-json").Output()
	if err != nil {
		t.Fatalf("der: %v %s", err, out)
	}
	var r struct {
		Files []derFile
		Total struct{ Components derFile }
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r.Files, r.Total.Components
}

func score(t *testing.T, name, ref, hyp, uem string) {
	f25, t25 := runDER(t, ref, hyp, uem, "0.25")
	f0, t0 := runDER(t, ref, hyp, uem, "0")
	pc := func(x, tot float64) float64 { return 100 * x / tot }
	for i, f := range f25 {
		g := f0[i]
		fmt.Printf("%-12s DER %5.1f (ms %4.1f fa %4.1f sc %5.1f) | c0 %5.1f (ms %4.1f fa %4.1f sc %4.1f) | spk %d/%d\n", f.File,
			pc(f.Missed+f.FalseAlarm+f.Confusion, f.Total), pc(f.Missed, f.Total), pc(f.FalseAlarm, f.Total), pc(f.Confusion, f.Total),
			pc(g.Missed+g.FalseAlarm+g.Confusion, g.Total), pc(g.Missed, g.Total), pc(g.FalseAlarm, g.Total), pc(g.Confusion, g.Total),
			len(f.HypSpeakers), len(f.RefSpeakers))
	}
	fmt.Printf("%-12s DER %5.1f %28s | c0 %5.1f\n", name+" TOTAL", pc(t25.Missed+t25.FalseAlarm+t25.Confusion, t25.Total), "", pc(t0.Missed+t0.FalseAlarm+t0.Confusion, t0.Total))
}

// TestExpVAD reports frame-level missed speech and false alarm of the
// speech detector against the union of reference speakers.
func TestExpVAD(t *testing.T) {
	out := os.Getenv("PARLEY_DIARIZE_EXP")
	if out == "" {
		t.Skip("experiment")
	}
	var files [][2]string // wav, rttm
	ms, _ := devset.Meetings()
	for _, m := range ms {
		files = append(files, [2]string{m.Mix, m.RTTM})
	}
	for _, set := range []string{"tune"} {
		ws, _ := filepath.Glob(filepath.Join(out, set, "audio", "*.wav"))
		for _, w := range ws {
			id := strings.TrimSuffix(filepath.Base(w), ".wav")
			files = append(files, [2]string{w, filepath.Join(out, set, "rttm", id+".rttm")})
		}
	}
	for _, f := range files {
		x, _ := readWAV16(f[0])
		a, _ := analyze(context.Background(), x)
		fh, _ := os.Open(f[1])
		recs, _ := ReadRTTM(fh)
		fh.Close()
		ref := make([]bool, a.n)
		for _, r := range recs {
			for t := int(r.Start * 100); t < int(r.End*100) && t < a.n; t++ {
				ref[t] = true
			}
		}
		rep := func(name string, sp []span) {
			hyp := make([]bool, a.n)
			for _, s := range sp {
				for t := s.start; t < s.end; t++ {
					hyp[t] = true
				}
			}
			var nref, miss, fa int
			for t := range a.n {
				if ref[t] {
					nref++
					if !hyp[t] {
						miss++
					}
				} else if hyp[t] {
					fa++
				}
			}
			fmt.Printf("%-14s %-8s miss %5.1f%%  fa %5.1f%%\n", filepath.Base(f[0]), name, 100*float64(miss)/float64(nref), 100*float64(fa)/float64(nref))
		}
		e := energySpeech(a, &defaultParams)
		rep("energy", e)
		rep("voiced", voicedOnly(a, e, &defaultParams))
	}
}

func TestExpCPP(t *testing.T) {
	if os.Getenv("PARLEY_DIARIZE_EXP") == "" {
		t.Skip("experiment")
	}
	ws, _ := filepath.Glob("/tmp/stems/*.wav")
	for _, w := range ws {
		x, _ := readWAV16(w)
		a, _ := analyze(context.Background(), x)
		var vs, f0 []float64
		es := slices.Clone(a.energy)
		slices.Sort(es)
		for i := range a.n {
			if a.energy[i] > es[len(es)-1]-30 {
				vs = append(vs, float64(a.voicing[i]))
				if a.voicing[i] > 0.25 {
					f0 = append(f0, float64(a.pitch[i]))
				}
			}
		}
		slices.Sort(vs)
		q := func(p float64) float64 { return vs[int(p*float64(len(vs)-1))] }
		fmt.Printf("%-28s n=%5d cpp p10 %.3f p25 %.3f p50 %.3f p75 %.3f p90 %.3f\n", filepath.Base(w), len(vs), q(.1), q(.25), q(.5), q(.75), q(.9))
		slices.Sort(f0)
		vs = f0
		fmt.Printf("%-28s f0 n=%d p10 %.0f p25 %.0f p50 %.0f p75 %.0f p90 %.0f\n", "", len(f0), q(.1), q(.25), q(.5), q(.75), q(.9))
	}
}
