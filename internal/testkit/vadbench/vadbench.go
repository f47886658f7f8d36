// Package vadbench measures the voice activity detector on the shared dev
// set: per-track attribution scored as DER by the shared `der` scorer, and
// speech/non-speech frame accuracy with white and pink noise added. It backs
// `parley bench-vad` and the VAD regression test.
package vadbench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/audio/vad"
	"github.com/parleyhq/parley/internal/testkit/devset"
)

// Labelled is a speech segment with a speaker label.
type Labelled struct {
	vad.Segment
	Speaker string
}

// ReadRTTM reads the SPEAKER lines of an RTTM file.
func ReadRTTM(path string) ([]Labelled, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Labelled
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 8 || fs[0] != "SPEAKER" {
			continue
		}
		st, err1 := strconv.ParseFloat(fs[3], 64)
		d, err2 := strconv.ParseFloat(fs[4], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		out = append(out, Labelled{vad.Segment{Start: st, End: st + d}, fs[7]})
	}
	return out, sc.Err()
}

// WriteRTTM writes labelled segments as RTTM for file id.
func WriteRTTM(path, id string, segs []Labelled) error {
	sort.Slice(segs, func(i, j int) bool { return segs[i].Start < segs[j].Start })
	var b strings.Builder
	for _, s := range segs {
		fmt.Fprintf(&b, "SPEAKER %s 1 %.3f %.3f <NA> <NA> %s <NA> <NA>\n", id, s.Start, s.End-s.Start, s.Speaker)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// PerTrack runs the VAD over each stem of m, labelling its regions with the
// stem's speaker name (what Parley does with one track per participant).
func PerTrack(m devset.Meeting, cfg vad.Config) ([]Labelled, error) {
	var out []Labelled
	for _, spk := range m.Speakers() {
		x, _, err := audiofile.ReadAll(m.Stems[spk])
		if err != nil {
			return nil, err
		}
		for _, s := range vad.Detect(x, cfg) {
			out = append(out, Labelled{s, spk})
		}
	}
	return out, nil
}

// DER is one file's line of the der scorer's JSON output.
type DER struct {
	File       string  `json:"file"`
	Total      float64 `json:"total"`
	Missed     float64 `json:"missed"`
	FalseAlarm float64 `json:"false_alarm"`
	Confusion  float64 `json:"confusion"`
	DER        float64 `json:"der"`
}

// BuildDER compiles the shared der scorer into dir and returns its path.
func BuildDER(ctx context.Context, dir string) (string, error) {
	return devset.BuildTool(ctx, dir, "der")
}

// ScoreDER runs the der binary on a hypothesis directory against the dev
// set's references with the given collar and returns per-file results and
// the total (File "TOTAL").
func ScoreDER(ctx context.Context, der, hypDir string, collar float64) ([]DER, error) {
	d, err := devset.Dir()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, der, "-ref", filepath.Join(d, "rttm"), "-hyp", hypDir,
		"-uem", filepath.Join(d, "uem"), "-collar", strconv.FormatFloat(collar, 'f', -1, 64), "-json")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("der: %v", err)
	}
	return parseDERJSON(out)
}

// parseDERJSON reads the scorer's -json output. The scorer writes a null
// DER for a file without reference speech; that is an error here, not 0.
func parseDERJSON(b []byte) ([]DER, error) {
	type row struct {
		DER
		Ratio *float64 `json:"der"`
	}
	var obj struct {
		Files []row `json:"files"`
		Total struct {
			Components DER      `json:"components"`
			Ratio      *float64 `json:"der"`
		} `json:"total"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("der output: %v: %.200s", err, b)
	}
	t := obj.Total.Components
	t.File = "TOTAL"
	rows := append(obj.Files, row{t, obj.Total.Ratio})
	out := make([]DER, len(rows))
	for i, r := range rows {
		if r.Ratio == nil {
			return nil, fmt.Errorf("der output: no DER for %q: %.200s", r.File, b)
		}
		out[i] = r.DER
		out[i].DER = *r.Ratio
	}
	return out, nil
}

// Noise kinds for frame accuracy.
const (
	Clean = "clean"
	White = "white"
	Pink  = "pink"
)

// AddNoise returns x plus noise of the given kind whose power is the
// speech power of x over the segments minus snrDB. The noise is seeded, so
// runs repeat.
func AddNoise(x []float32, speech []vad.Segment, kind string, snrDB float64, seed uint64) []float32 {
	if kind == Clean {
		return x
	}
	var p float64
	var n int
	for _, s := range speech {
		for i := max(0, int(s.Start*16000)); i < min(len(x), int(s.End*16000)); i++ {
			p += float64(x[i]) * float64(x[i])
			n++
		}
	}
	if n == 0 {
		return x
	}
	p /= float64(n)
	amp := math.Sqrt(p / math.Pow(10, snrDB/10))
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	noise := make([]float64, len(x))
	// Pink noise by Paul Kellet's refined filter (−3 dB/octave within
	// ±0.05 dB above 9 Hz at 44.1 kHz; close enough at 16 kHz for a test).
	var b0, b1, b2, b3, b4, b5, b6 float64
	var np float64
	for i := range noise {
		w := rng.NormFloat64()
		v := w
		if kind == Pink {
			b0 = 0.99886*b0 + w*0.0555179
			b1 = 0.99332*b1 + w*0.0750759
			b2 = 0.96900*b2 + w*0.1538520
			b3 = 0.86650*b3 + w*0.3104856
			b4 = 0.55000*b4 + w*0.5329522
			b5 = -0.7616*b5 - w*0.0168980
			v = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w*0.5362
			b6 = w * 0.115926
		}
		noise[i] = v
		np += v * v
	}
	scale := amp / math.Sqrt(np/float64(len(noise)))
	y := make([]float32, len(x))
	for i := range x {
		y[i] = float32(max(-1, min(1, float64(x[i])+noise[i]*scale)))
	}
	return y
}

// FrameAccuracy compares hypothesis and reference speech at 10 ms frames
// over [0, dur): the fraction of frames labelled alike, and the miss and
// false alarm rates (of reference speech and non-speech frames).
func FrameAccuracy(ref, hyp []vad.Segment, dur float64) (acc, miss, fa float64) {
	n := int(dur * 100)
	r, h := mask(ref, n), mask(hyp, n)
	var same, sp, ns, missed, fals int
	for i := range n {
		if r[i] == h[i] {
			same++
		}
		if r[i] {
			sp++
			if !h[i] {
				missed++
			}
		} else {
			ns++
			if h[i] {
				fals++
			}
		}
	}
	return float64(same) / float64(max(1, n)), float64(missed) / float64(max(1, sp)), float64(fals) / float64(max(1, ns))
}

func mask(segs []vad.Segment, n int) []bool {
	m := make([]bool, n)
	for _, s := range segs {
		for i := max(0, int(math.Round(s.Start*100))); i < min(n, int(math.Round(s.End*100))); i++ {
			m[i] = true
		}
	}
	return m
}

// SpeakerSegments returns one speaker's reference segments (all speakers'
// when spk is "").
func SpeakerSegments(ref []Labelled, spk string) []vad.Segment {
	var out []vad.Segment
	for _, s := range ref {
		if spk == "" || s.Speaker == spk {
			out = append(out, s.Segment)
		}
	}
	return out
}

// EnergyBaseline is the detector the dev set's README calibrates against:
// 10 ms frames above thresholdDB dBFS, pauses under 0.3 s bridged.
func EnergyBaseline(x []float32, thresholdDB float64) []vad.Segment {
	const hop = 160
	var segs []vad.Segment
	for i := 0; i+hop <= len(x); i += hop {
		var s float64
		for _, v := range x[i : i+hop] {
			s += float64(v) * float64(v)
		}
		if 10*math.Log10(s/hop+1e-12) < thresholdDB {
			continue
		}
		st, en := float64(i)/16000, float64(i+hop)/16000
		if n := len(segs); n > 0 && st-segs[n-1].End < 0.3 {
			segs[n-1].End = en
		} else {
			segs = append(segs, vad.Segment{Start: st, End: en})
		}
	}
	return segs
}

// Condition is one noise condition of the frame-accuracy table.
type Condition struct {
	Kind string
	SNR  float64 // dB; ignored for Clean
}

func (c Condition) String() string {
	if c.Kind == Clean {
		return "clean"
	}
	return fmt.Sprintf("%s %g dB", c.Kind, c.SNR)
}

// Conditions are the noise conditions reported: clean, then white and
// pink noise at 20, 10 and 5 dB SNR.
func Conditions() []Condition {
	cs := []Condition{{Kind: Clean}}
	for _, k := range []string{White, Pink} {
		for _, s := range []float64{20, 10, 5} {
			cs = append(cs, Condition{k, s})
		}
	}
	return cs
}

// Accuracy is a frame-accuracy result.
type Accuracy struct {
	Acc, Miss, FA float64
	Frames        int
}

// NearField scores the per-track detector on every stem of m under a noise
// condition (noise added to each stem at the SNR of that stem's speech),
// pooling frames over the stems.
func NearField(m devset.Meeting, c Condition, detect func([]float32) []vad.Segment) (Accuracy, error) {
	ref, err := ReadRTTM(m.RTTM)
	if err != nil {
		return Accuracy{}, err
	}
	var tot Accuracy
	var sp, ns float64
	for i, spk := range m.Speakers() {
		x, _, err := audiofile.ReadAll(m.Stems[spk])
		if err != nil {
			return Accuracy{}, err
		}
		rs := SpeakerSegments(ref, spk)
		y := AddNoise(x, rs, c.Kind, c.SNR, uint64(i+1))
		dur := float64(len(x)) / 16000
		a, mi, fa := FrameAccuracy(rs, detect(y), dur)
		n := int(dur * 100)
		spf := speechFrames(rs, n)
		tot.Acc += a * float64(n)
		tot.Miss += mi * float64(spf)
		tot.FA += fa * float64(n-spf)
		tot.Frames += n
		sp += float64(spf)
		ns += float64(n - spf)
	}
	tot.Acc /= float64(max(1, tot.Frames))
	tot.Miss /= max(1, sp)
	tot.FA /= max(1, ns)
	return tot, nil
}

// FarField scores the detector on the meeting's mixed recording against the
// union of all speakers' speech.
func FarField(m devset.Meeting, c Condition, detect func([]float32) []vad.Segment) (Accuracy, error) {
	ref, err := ReadRTTM(m.RTTM)
	if err != nil {
		return Accuracy{}, err
	}
	x, _, err := audiofile.ReadAll(m.Mix)
	if err != nil {
		return Accuracy{}, err
	}
	rs := SpeakerSegments(ref, "")
	y := AddNoise(x, rs, c.Kind, c.SNR, 99)
	dur := float64(len(x)) / 16000
	a, mi, fa := FrameAccuracy(rs, detect(y), dur)
	return Accuracy{a, mi, fa, int(dur * 100)}, nil
}

func speechFrames(segs []vad.Segment, n int) int {
	c := 0
	for _, v := range mask(segs, n) {
		if v {
			c++
		}
	}
	return c
}
