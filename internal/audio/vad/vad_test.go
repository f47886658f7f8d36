package vad

import (
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/parleyhq/parley/internal/audio/audiofile"
)

// Held-out material: utterances synthesised here with voices and texts that
// are not in the dev set, so the thresholds are not checked only on the
// data they were chosen on.
var heldOut = []struct{ engine, voice, text string }{
	{"espeak-ng", "en-us+f3", "The quarterly numbers look better than we expected, mostly thanks to the new region."},
	{"flite", "rms", "Could you share your screen again? I missed the second chart."},
	{"espeak-ng", "en+m3", "Sure. Give me a second while I find the right window."},
	{"flite", "slt", "Thanks. The shipping delays in March explain most of the gap."},
	{"espeak-ng", "fr-fr+f2", "Je propose qu'on revienne sur ce point la semaine prochaine."},
	{"flite", "awb", "Agreed, let's move on to hiring."},
}

var (
	heldOnce  sync.Once
	heldUtts  [][]float32
	heldError error
)

// utterances returns the held-out utterances at 16 kHz (synthesised once).
func utterances(t *testing.T) [][]float32 {
	t.Helper()
	heldOnce.Do(func() {
		dir, err := tempDir()
		if err != nil {
			heldError = err
			return
		}
		for _, u := range heldOut {
			raw := filepath.Join(dir, "raw.wav")
			var cmd *exec.Cmd
			if u.engine == "flite" {
				cmd = exec.Command("flite", "-voice", u.voice, "-t", u.text, "-o", raw)
			} else {
				cmd = exec.Command("espeak-ng", "-v", u.voice, "-w", raw, u.text)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				heldError = errorf("%s: %v %s", u.engine, err, out)
				return
			}
			p := filepath.Join(dir, "u.wav")
			// Level to about −23 dBFS peak-normalised speech, like the dev set.
			if out, err := exec.Command("sox", raw, "-r", "16000", "-c", "1", "-b", "16", p, "norm", "-6").CombinedOutput(); err != nil {
				heldError = errorf("sox: %v %s", err, out)
				return
			}
			x, _, err := audiofile.ReadAll(p)
			if err != nil {
				heldError = err
				return
			}
			heldUtts = append(heldUtts, trimSilence(x))
		}
	})
	if heldError != nil {
		t.Fatal(heldError)
	}
	return heldUtts
}

// trimSilence removes leading and trailing samples below −60 dBFS.
func trimSilence(x []float32) []float32 {
	lo, hi := 0, len(x)
	for lo < hi && math.Abs(float64(x[lo])) < 1e-3 {
		lo++
	}
	for hi > lo && math.Abs(float64(x[hi-1])) < 1e-3 {
		hi--
	}
	return x[lo:hi]
}

// referenceSegments labels speech in a clean signal the way the dev set's
// references were made: 10 ms frames whose energy is above
// max(peak − 45 dB, −70 dBFS), pauses under 0.3 s bridged.
func referenceSegments(x []float32) []Segment {
	n := len(x) / hop
	e := make([]float64, n)
	peak := -200.0
	for i := range n {
		var s float64
		for _, v := range x[i*hop : (i+1)*hop] {
			s += float64(v) * float64(v)
		}
		e[i] = 10 * math.Log10(s/hop+1e-12)
		peak = max(peak, e[i])
	}
	thr := max(peak-45, -70)
	var segs []Segment
	for i := 0; i < n; {
		if e[i] < thr {
			i++
			continue
		}
		j := i
		for j < n && e[j] >= thr {
			j++
		}
		s := Segment{float64(i) * FrameDuration, float64(j) * FrameDuration}
		if len(segs) > 0 && s.Start-segs[len(segs)-1].End < 0.3 {
			segs[len(segs)-1].End = s.End
		} else {
			segs = append(segs, s)
		}
		i = j
	}
	return segs
}

// track lays utterances out with pauses, like one participant's track:
// digital silence between turns. It returns the track and its reference.
func track(utts [][]float32, pause float64) ([]float32, []Segment) {
	var x []float32
	var ref []Segment
	gap := make([]float32, int(pause*sampleRate))
	x = append(x, gap...)
	for _, u := range utts {
		off := float64(len(x)) / sampleRate
		for _, s := range referenceSegments(u) {
			ref = append(ref, Segment{s.Start + off, s.End + off})
		}
		x = append(x, u...)
		x = append(x, gap...)
	}
	return x, ref
}

// frameScores returns miss rate (of reference speech frames) and false
// alarm rate (of non-speech frames), ignoring frames within collar seconds
// of a reference boundary, like the DER collar.
func frameScores(ref, hyp []Segment, dur, collar float64) (miss, fa float64) {
	n := int(dur / FrameDuration)
	lab := func(segs []Segment) []bool {
		m := make([]bool, n)
		for _, s := range segs {
			for i := max(0, int(s.Start/FrameDuration)); i < min(n, int(s.End/FrameDuration)); i++ {
				m[i] = true
			}
		}
		return m
	}
	r, h := lab(ref), lab(hyp)
	skip := make([]bool, n)
	for _, s := range ref {
		for _, b := range []float64{s.Start, s.End} {
			for i := max(0, int((b-collar)/FrameDuration)); i < min(n, int((b+collar)/FrameDuration)); i++ {
				skip[i] = true
			}
		}
	}
	var sp, ns, m, f int
	for i := range n {
		if skip[i] {
			continue
		}
		if r[i] {
			sp++
			if !h[i] {
				m++
			}
		} else {
			ns++
			if h[i] {
				f++
			}
		}
	}
	return float64(m) / float64(max(1, sp)), float64(f) / float64(max(1, ns))
}

func whiteNoise(n int, dbfs float64, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	a := math.Pow(10, dbfs/20)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(a * rng.NormFloat64())
	}
	return x
}

// pinkNoise uses Paul Kellet's economy filter (−3 dB/octave).
func pinkNoise(n int, dbfs float64, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	x := make([]float64, n)
	var b0, b1, b2, p float64
	for i := range x {
		w := rng.NormFloat64()
		b0 = 0.99765*b0 + w*0.0990460
		b1 = 0.96300*b1 + w*0.2965164
		b2 = 0.57000*b2 + w*1.0526913
		x[i] = b0 + b1 + b2 + w*0.1848
		p += x[i] * x[i]
	}
	a := math.Pow(10, dbfs/20) / math.Sqrt(p/float64(n))
	out := make([]float32, n)
	for i := range x {
		out[i] = float32(x[i] * a)
	}
	return out
}

func mix(x []float32, noise []float32) []float32 {
	y := make([]float32, len(x))
	for i := range x {
		y[i] = x[i] + noise[i%len(noise)]
	}
	return y
}

func TestHeldOutCleanTrack(t *testing.T) {
	x, ref := track(utterances(t), 1.5)
	hyp := Detect(x, DefaultConfig())
	miss, fa := frameScores(ref, hyp, float64(len(x))/sampleRate, 0.25)
	t.Logf("miss %.3f, false alarm %.3f", miss, fa)
	// Measured: miss 0.0 %, false alarm 0.0 % (collar 0.25 s).
	if miss > 0.03 || fa > 0.02 {
		t.Errorf("clean track: miss %.3f, false alarm %.3f (want ≤ 0.03, ≤ 0.02)\nref %v\nhyp %v", miss, fa, ref, hyp)
	}
}

func TestHeldOutNoiseAroundTurns(t *testing.T) {
	// The dev set's hard case, rebuilt on other voices: pink noise at
	// −44 dBFS while the microphone is open, from 0.5 s before to 0.5 s
	// after each turn, digital silence elsewhere. An energy VAD calls all
	// of it speech.
	utts := utterances(t)
	x, ref := track(utts, 2)
	noise := pinkNoise(len(x), -44, 7)
	y := append([]float32(nil), x...)
	pos := 2 * sampleRate
	for _, u := range utts {
		lo, hi := pos-sampleRate/2, pos+len(u)+sampleRate/2
		for i := lo; i < hi; i++ {
			y[i] += noise[i]
		}
		pos += len(u) + 2*sampleRate
	}
	hyp := Detect(y, DefaultConfig())
	miss, fa := frameScores(ref, hyp, float64(len(x))/sampleRate, 0.25)
	t.Logf("miss %.3f, false alarm %.3f", miss, fa)
	// Measured: miss 0.0 %, false alarm 0.0 % (collar 0.25 s).
	if miss > 0.05 || fa > 0.02 {
		t.Errorf("noise around turns: miss %.3f, false alarm %.3f (want ≤ 0.05, ≤ 0.02)\nref %v\nhyp %v", miss, fa, ref, hyp)
	}
	// The baseline this replaces: energy above −45 dBFS.
	var energyFA int
	for i := 0; i+hop <= len(y); i += hop {
		var s float64
		for _, v := range y[i : i+hop] {
			s += float64(v) * float64(v)
		}
		inRef := false
		for _, r := range ref {
			tm := float64(i) / sampleRate
			inRef = inRef || (tm >= r.Start-0.25 && tm < r.End+0.25)
		}
		if !inRef && 10*math.Log10(s/hop) > -45 {
			energyFA++
		}
	}
	if energyFA < 50 {
		t.Errorf("the test lost its teeth: an energy VAD has only %d false-alarm frames", energyFA)
	}
}

func TestHeldOutContinuousNoise(t *testing.T) {
	utts := utterances(t)
	x, ref := track(utts, 1.5)
	var sp float64
	var n int
	for _, r := range ref {
		for i := int(r.Start * sampleRate); i < int(r.End*sampleRate); i++ {
			sp += float64(x[i]) * float64(x[i])
			n++
		}
	}
	speechDB := 10 * math.Log10(sp/float64(n))
	for _, c := range []struct {
		name       string
		noise      func(int, float64, uint64) []float32
		snr        float64
		maxMiss    float64
		maxFA      float64
		measuredAt string
	}{
		// Thresholds: measured value plus margin (miss, FA measured).
		{"white 20 dB", whiteNoise, 20, 0.05, 0.03, "0.000, 0.000"},
		{"pink 10 dB", pinkNoise, 10, 0.06, 0.03, "0.008, 0.000"},
		{"white 10 dB", whiteNoise, 10, 0.12, 0.03, "0.034 to 0.075, 0.000"},
	} {
		y := mix(x, c.noise(len(x), speechDB-c.snr, 3))
		hyp := Detect(y, DefaultConfig())
		miss, fa := frameScores(ref, hyp, float64(len(x))/sampleRate, 0.25)
		t.Logf("%s: miss %.3f, false alarm %.3f", c.name, miss, fa)
		if miss > c.maxMiss || fa > c.maxFA {
			t.Errorf("%s: miss %.3f, false alarm %.3f (want ≤ %.2f, ≤ %.2f; measured %s)", c.name, miss, fa, c.maxMiss, c.maxFA, c.measuredAt)
		}
	}
}

func TestNoiseAloneIsNotSpeech(t *testing.T) {
	n := 20 * sampleRate
	hum := make([]float32, n)
	for i := range hum {
		// 100 Hz mains hum with harmonics: periodic, so voiced-looking,
		// but steady: the floor follows it.
		for h := 1; h <= 5; h++ {
			hum[i] += float32(0.01 / float64(h) * math.Sin(2*math.Pi*100*float64(h)*float64(i)/sampleRate))
		}
	}
	for name, x := range map[string][]float32{
		"white −30 dBFS": whiteNoise(n, -30, 1),
		"pink −25 dBFS":  pinkNoise(n, -25, 2),
		"hum":            hum,
		"silence":        make([]float32, n),
	} {
		for _, cfg := range []Config{DefaultConfig(), FarFieldConfig()} {
			if segs := Detect(x, cfg); len(segs) != 0 {
				t.Errorf("%s: %d segments %v", name, len(segs), segs)
			}
		}
	}
}

func TestStreamMatchesDetectInAnyChunks(t *testing.T) {
	x, _ := track(utterances(t), 1.2)
	want := Detect(x, DefaultConfig())
	rng := rand.New(rand.NewPCG(4, 4))
	s := NewStream(DefaultConfig())
	var evs []Event
	written := 0
	for written < len(x) {
		n := min(len(x)-written, 1+rng.IntN(3000))
		for _, e := range s.Write(x[written : written+n]) {
			// The event was decided by some sample of this chunk: measure
			// from the chunk's first sample.
			now := float64(written) / sampleRate
			// Latency bound from the Stream doc: start ≤ MaxGrow + 0.1 s
			// after its At, end ≤ MinGap + MaxGrow + 0.1 s.
			lim := 0.6 + 0.1
			if e.Kind == SpeechStart {
				lim = 0.25 + 0.1 + 0.05
			}
			if now-e.At > lim {
				t.Errorf("%v at %.2f s returned at %.2f s (%.2f s late, limit %.2f)", e.Kind, e.At, now, now-e.At, lim)
			}
			if end := float64(written+n) / sampleRate; end < e.At {
				t.Errorf("%v at %.2f s returned before its time (%.2f s)", e.Kind, e.At, end)
			}
			evs = append(evs, e)
		}
		written += n
	}
	evs = append(evs, s.Flush()...)
	got := Segments(evs)
	if len(got) != len(want) {
		t.Fatalf("streamed %d segments, Detect %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("segment %d: %v vs %v", i, got[i], want[i])
		}
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Kind == evs[i-1].Kind || evs[i].At < evs[i-1].At {
			t.Fatalf("events out of order: %v then %v", evs[i-1], evs[i])
		}
	}
}

func TestMaxUtteranceCutsAtPauses(t *testing.T) {
	// One long monologue: the utterances back to back with 0.15 s pauses,
	// repeated to about 45 s; MinGap 1 s so that no pause inside the
	// synthesised sentences (up to 0.5 s) ends a region by itself.
	utts := utterances(t)
	var x []float32
	for len(x) < 45*sampleRate {
		for _, u := range utts {
			x = append(x, u...)
			x = append(x, make([]float32, sampleRate*15/100)...)
		}
	}
	cfg := DefaultConfig()
	cfg.MinGap = 1
	segs := Detect(x, cfg)
	if len(segs) < 3 {
		t.Fatalf("45 s monologue in %d segments %v, want cuts every ≤ 20 s", len(segs), segs)
	}
	for _, s := range segs {
		if d := s.End - s.Start; d > cfg.MaxUtterance+5 {
			t.Errorf("segment %v lasts %.1f s, limit %.0f s", s, d, cfg.MaxUtterance+5)
		}
	}
	var covered float64
	for _, s := range segs {
		covered += s.End - s.Start
	}
	if total := float64(len(x)) / sampleRate; covered < 0.9*total {
		t.Errorf("cuts lost speech: %.1f s of %.1f s covered", covered, total)
	}
	cfg.MaxUtterance = 0
	longest := 0.0
	for _, s := range Detect(x, cfg) {
		longest = max(longest, s.End-s.Start)
	}
	if longest <= 20 {
		t.Errorf("without MaxUtterance the longest region is %.1f s: the test does not need cuts", longest)
	}
	t.Logf("%d segments with cuts, longest %.1f s without", len(segs), longest)
}

func BenchmarkDetect(b *testing.B) {
	// 10 s: pink noise at −50 dBFS with a voiced burst every other second.
	x := pinkNoise(10*sampleRate, -50, 5)
	for s := 1; s < 10; s += 2 {
		for i := s * sampleRate; i < (s+1)*sampleRate; i++ {
			for h := 1; h <= 10; h++ {
				x[i] += float32(0.02 / float64(h) * math.Sin(2*math.Pi*130*float64(h)*float64(i)/sampleRate))
			}
		}
	}
	b.SetBytes(int64(len(x) * 4))
	for b.Loop() {
		Detect(x, DefaultConfig())
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/10, "µs/s-audio")
}
