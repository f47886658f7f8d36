// Package meetsynth builds synthetic multi-speaker meetings for testing and
// benchmarking the diarizer: each participant is a text-to-speech voice
// (espeak-ng or flite, rendered to 16 kHz with sox), turns follow a seeded
// script with gaps, interruptions and back-channels, and the reference
// diarization is derived from each participant's clean track with the same
// convention as the shared dev set (10 ms frames, energy above
// max(peak − 45 dB, −70 dBFS), pauses shorter than 0.3 s bridged).
// A spec can also put the meeting in a reverberant, noisy room and pass
// the mix through Opus (hard.go's sets do).
//
// It exists so that the diarizer can be checked on meetings its constants
// were never tuned on: the dev set has three meetings, which is too few to
// trust an automatic speaker count or a threshold.
package meetsynth

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/audio/audiofile"
)

// SampleRate is the rate of every signal this package produces.
const SampleRate = 16000

// Version changes whenever the same Spec renders differently, so caches of
// rendered meetings know to render again. 2: espeak-ng variants applied
// (espeakName).
const Version = 2

// ErrTool means a required external program (espeak-ng, flite, sox) is
// missing or failed.
var ErrTool = errors.New("meetsynth: speech tool")

// Voice is one text-to-speech voice.
type Voice struct {
	Engine string // "espeak", "flite" or "clips" (real.go: recordings of one person)
	// Name is the espeak-ng voice (e.g. "en-us+m3"), the flite voice (e.g.
	// "slt") or the directory of a "clips" voice's recordings.
	Name string
	// Args are extra arguments, e.g. {"-p", "40", "-s", "160"} for
	// espeak-ng; for "clips", the recordings' file extension (".wav").
	Args []string
	// Effects are sox effects applied after synthesis, e.g.
	// {"pitch", "-200"} (a third of an octave down, formants with it) or
	// {"tempo", "1.1"}: more voices from the few the engines ship.
	Effects []string
}

func (v Voice) String() string {
	s := v.Engine + ":" + v.Name
	for _, a := range v.Args {
		s += " " + a
	}
	if len(v.Effects) > 0 {
		s += " |"
		for _, a := range v.Effects {
			s += " " + a
		}
	}
	return s
}

// Available reports whether the programs needed to render voices exist.
func Available() error {
	for _, p := range []string{"espeak-ng", "flite", "sox", "opusenc"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%w: %s not found", ErrTool, p)
		}
	}
	return nil
}

// Synthesize renders text with voice as 16 kHz mono float32 samples in
// [−1, 1], trimmed of nothing (the engines add their own short silences).
func Synthesize(ctx context.Context, v Voice, text, tmpDir string) ([]float32, error) {
	if v.Engine == "clips" {
		return clipTurn(ctx, v, text)
	}
	wav := filepath.Join(tmpDir, "tts.wav")
	var cmd *exec.Cmd
	switch v.Engine {
	case "espeak":
		args := append([]string{"-v", espeakName(v.Name), "-w", wav}, v.Args...)
		args = append(args, text)
		cmd = exec.CommandContext(ctx, "espeak-ng", args...)
	case "flite":
		args := append([]string{"-voice", v.Name, "-o", wav}, v.Args...)
		args = append(args, "-t", text)
		cmd = exec.CommandContext(ctx, "flite", args...)
	default:
		return nil, fmt.Errorf("%w: unknown engine %q", ErrTool, v.Engine)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v: %s", ErrTool, v, err, out)
	}
	defer os.Remove(wav)
	// -D: no dither. sox dithers by default when it writes 16 bits, with
	// fresh random noise each run, so the same spec gave different audio
	// (±1 LSB) and, the diarizer being that sensitive, a DER between 1 %
	// and 27 % on one held-out meeting.
	return soxRead(ctx, wav, v.Effects)
}

// espeakName is the name under which espeak-ng applies a voice's
// variant. It reads "fr-fr" and "en-gb" as language codes and then drops
// any "+variant": "fr-fr+f1" rendered exactly as "fr-fr+m1" and as plain
// "fr-fr" (byte for byte, espeak-ng 1.51), so meetings specified with
// five French voices had one voice at five pitches. The same voices are
// "fr" and "en" (identical output without a variant), which keep it.
func espeakName(name string) string {
	base, variant, ok := strings.Cut(name, "+")
	if !ok {
		return name
	}
	switch base {
	case "fr-fr":
		base = "fr"
	case "en-gb":
		base = "en"
	}
	return base + "+" + variant
}

// soxRead decodes an audio file with sox to 16 kHz mono samples, through
// the sox effects given.
func soxRead(ctx context.Context, path string, effects []string) ([]float32, error) {
	sox := exec.CommandContext(ctx, "sox", append([]string{"-D", path, "-t", "raw", "-r", strconv.Itoa(SampleRate),
		"-e", "signed", "-b", "16", "-c", "1", "-"}, effects...)...)
	var stdout, stderr bytes.Buffer
	sox.Stdout, sox.Stderr = &stdout, &stderr
	if err := sox.Run(); err != nil {
		return nil, fmt.Errorf("%w: sox: %v: %s", ErrTool, err, stderr.Bytes())
	}
	raw := stdout.Bytes()
	out := make([]float32, len(raw)/2)
	for i := range out {
		out[i] = float32(int16(binary.LittleEndian.Uint16(raw[2*i:]))) / 32768
	}
	return out, nil
}

// Participant is one speaker of a meeting.
type Participant struct {
	Label string
	Voice Voice
	// LevelDBFS is the RMS level of the participant's active speech.
	LevelDBFS float64
	// OpenMicNoiseDBFS, when non-zero, adds pink noise at that RMS level to
	// the participant's track from 0.5 s before to 0.5 s after each of their
	// turns (a noisy microphone that is open only while they talk).
	OpenMicNoiseDBFS float64
	// Weight is the participant's share of the main turns relative to the
	// others' (0 counts as 1). When any participant of a meeting has one,
	// turns are drawn by weight and a participant may take two in a row
	// (after a pause), so that one person can hold 60 % of a meeting.
	Weight float64
}

// Spec describes a meeting to generate.
type Spec struct {
	ID           string
	Seed         uint64
	Participants []Participant
	Sentences    []string // the pool turns draw their text from
	Turns        int      // number of main turns (back-channels come on top)
	// BackchannelProb is the chance that a turn gets a short back-channel
	// from another participant in its middle.
	BackchannelProb float64
	// InterruptProb is the chance that a turn starts 0.3–0.9 s before the
	// previous one ends.
	InterruptProb float64
	// NoiseFloorDBFS is a white noise floor added to the mix (e.g. −66).
	NoiseFloorDBFS float64
	// Backchannels are the interjections back-channels draw from (nil:
	// the English Backchannels).
	Backchannels []string
	// Reverb, when set, are the arguments of sox's reverb effect
	// (reverberance %, HF damping %, room scale %): every track is played
	// in that room before the mix. The reference stays the dry speech.
	Reverb []string
	// RoomNoiseDBFS, when non-zero, adds pink noise at that RMS level over
	// the whole mix (ventilation, a projector).
	RoomNoiseDBFS float64
	// OpusKbps, when > 0, passes the mix through Opus at that bitrate
	// (opusenc, 20 ms frames) and decodes it back to 16 kHz, as a shared
	// microphone's track reaches the server.
	OpusKbps int
}

// Segment is one reference speech region.
type Segment struct {
	Speaker    string
	Start, End float64 // seconds
}

// Meeting is a generated meeting.
type Meeting struct {
	ID       string
	Mix      []float32 // 16 kHz mono
	Stems    map[string][]float32
	Ref      []Segment // sorted by start
	Duration float64
	Voices   map[string]string
}

// Backchannels are the short interjections placed inside other turns.
var Backchannels = []string{"Yes.", "Right.", "Okay.", "Oh no.", "Sure.", "Mm hm.", "Exactly.", "I see."}

// FrenchBackchannels are Backchannels for French meetings.
var FrenchBackchannels = []string{"Oui.", "D'accord.", "Ah bon ?", "Voilà.", "Bien sûr.", "Mm hm.", "Exactement.", "Tout à fait."}

// Generate renders spec. tmpDir receives temporary files.
func Generate(ctx context.Context, spec Spec, tmpDir string) (*Meeting, error) {
	if len(spec.Participants) == 0 || len(spec.Sentences) == 0 || spec.Turns <= 0 {
		return nil, errors.New("meetsynth: empty spec")
	}
	rng := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15))
	type placed struct {
		who   int
		start int // sample
		x     []float32
	}
	var items []placed
	weighted := false
	for _, p := range spec.Participants {
		weighted = weighted || p.Weight > 0
	}
	backchannels := spec.Backchannels
	if backchannels == nil {
		backchannels = Backchannels
	}
	t := int(0.8 * SampleRate) // leading silence
	prev := -1
	prevEnd := 0
	for range spec.Turns {
		var who int
		if weighted {
			who = pickWeighted(rng, spec.Participants)
		} else {
			who = rng.IntN(len(spec.Participants))
			if len(spec.Participants) > 1 {
				for who == prev {
					who = rng.IntN(len(spec.Participants))
				}
			}
		}
		// One or two sentences per turn.
		text := spec.Sentences[rng.IntN(len(spec.Sentences))]
		if rng.Float64() < 0.4 {
			text += " " + spec.Sentences[rng.IntN(len(spec.Sentences))]
		}
		x, err := Synthesize(ctx, spec.Participants[who].Voice, text, tmpDir)
		if err != nil {
			return nil, err
		}
		x = trim(x)
		start := t
		if prev >= 0 {
			// Nobody interrupts themself: the same speaker again goes on
			// after a pause.
			if interrupt := rng.Float64() < spec.InterruptProb; interrupt && who != prev {
				start = prevEnd - int((0.3+0.6*rng.Float64())*SampleRate)
			} else {
				start = prevEnd + int((0.25+1.0*rng.Float64())*SampleRate)
			}
		}
		items = append(items, placed{who, start, x})
		end := start + len(x)
		// A back-channel from someone else in the middle of long turns.
		if len(spec.Participants) > 1 && len(x) > 3*SampleRate && rng.Float64() < spec.BackchannelProb {
			other := rng.IntN(len(spec.Participants))
			for other == who {
				other = rng.IntN(len(spec.Participants))
			}
			bc, err := Synthesize(ctx, spec.Participants[other].Voice, backchannels[rng.IntN(len(backchannels))], tmpDir)
			if err != nil {
				return nil, err
			}
			bc = trim(bc)
			at := start + int((0.35+0.3*rng.Float64())*float64(len(x)))
			items = append(items, placed{other, at, bc})
		}
		prev, prevEnd, t = who, end, end
	}
	total := 0
	for _, it := range items {
		total = max(total, it.start+len(it.x))
	}
	total += int(0.8 * SampleRate)

	m := &Meeting{ID: spec.ID, Stems: map[string][]float32{}, Voices: map[string]string{}}
	stems := make([][]float32, len(spec.Participants))
	for i, p := range spec.Participants {
		stems[i] = make([]float32, total)
		m.Voices[p.Label] = p.Voice.String()
	}
	for _, it := range items {
		p := spec.Participants[it.who]
		g := gainFor(it.x, p.LevelDBFS)
		for j, v := range it.x {
			stems[it.who][it.start+j] += float32(g) * v
		}
	}
	// Reference regions come from the clean stems, before any noise.
	for i, p := range spec.Participants {
		m.Ref = append(m.Ref, speechRegions(stems[i], p.Label, p.Voice.Engine == "clips")...)
	}
	if len(spec.Reverb) > 0 {
		for i := range stems {
			r, err := soxFloat(ctx, stems[i], append([]string{"reverb"}, spec.Reverb...)...)
			if err != nil {
				return nil, err
			}
			// The tail of the last word may ring past the end: cut.
			stems[i] = append(r[:min(len(r), total):min(len(r), total)], make([]float32, max(0, total-len(r)))...)
		}
	}
	// Open-microphone noise, then the mix.
	for i, p := range spec.Participants {
		if p.OpenMicNoiseDBFS == 0 {
			continue
		}
		pn := newPink(rng)
		amp := math.Pow(10, p.OpenMicNoiseDBFS/20)
		for _, seg := range m.Ref {
			if seg.Speaker != p.Label {
				continue
			}
			a := max(0, int((seg.Start-0.5)*SampleRate))
			b := min(total, int((seg.End+0.5)*SampleRate))
			for j := a; j < b; j++ {
				stems[i][j] += float32(amp * pn.next())
			}
		}
	}
	m.Mix = make([]float32, total)
	for i, p := range spec.Participants {
		m.Stems[p.Label] = stems[i]
		for j, v := range stems[i] {
			m.Mix[j] += v
		}
	}
	if spec.NoiseFloorDBFS != 0 {
		amp := math.Pow(10, spec.NoiseFloorDBFS/20) * math.Sqrt(3) // uniform noise RMS = amp/√3
		for j := range m.Mix {
			m.Mix[j] += float32(amp * (2*rng.Float64() - 1))
		}
	}
	if spec.RoomNoiseDBFS != 0 {
		pn := newPink(rng)
		amp := math.Pow(10, spec.RoomNoiseDBFS/20)
		for j := range m.Mix {
			m.Mix[j] += float32(amp * pn.next())
		}
	}
	for j, v := range m.Mix {
		m.Mix[j] = max(-1, min(1, v))
	}
	if spec.OpusKbps > 0 {
		x, err := opusRoundTrip(ctx, m.Mix, spec.OpusKbps, tmpDir)
		if err != nil {
			return nil, err
		}
		m.Mix = x
	}
	sortSegments(m.Ref)
	m.Duration = float64(total) / SampleRate
	return m, nil
}

// pickWeighted draws a participant with probability proportional to
// their weight (0 counts as 1).
func pickWeighted(rng *rand.Rand, ps []Participant) int {
	w := func(p Participant) float64 {
		if p.Weight > 0 {
			return p.Weight
		}
		return 1
	}
	sum := 0.0
	for _, p := range ps {
		sum += w(p)
	}
	x := rng.Float64() * sum
	for i, p := range ps {
		if x -= w(p); x < 0 {
			return i
		}
	}
	return len(ps) - 1
}

// soxFloat runs x (16 kHz mono) through sox's effects and returns the
// result, which may be longer (a reverb's tail).
func soxFloat(ctx context.Context, x []float32, effects ...string) ([]float32, error) {
	raw := []string{"-t", "raw", "-r", strconv.Itoa(SampleRate), "-e", "floating-point", "-b", "32", "-c", "1"}
	args := append(append(append(append([]string{"-D"}, raw...), "-"), raw...), "-")
	cmd := exec.CommandContext(ctx, "sox", append(args, effects...)...)
	in := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(in[4*i:], math.Float32bits(v))
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: sox %v: %v: %s", ErrTool, effects, err, stderr.Bytes())
	}
	b := stdout.Bytes()
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// trim removes leading and trailing near-silence (below −60 dBFS peak) that
// the engines add, so that turn gaps are what the script says.
func trim(x []float32) []float32 {
	const th = 0.001
	a, b := 0, len(x)
	for a < b && math.Abs(float64(x[a])) < th {
		a++
	}
	for b > a && math.Abs(float64(x[b-1])) < th {
		b--
	}
	return x[a:b]
}

// gainFor returns the gain bringing the RMS of x's active frames (10 ms
// frames within 30 dB of the loudest) to levelDBFS.
func gainFor(x []float32, levelDBFS float64) float64 {
	const fl = SampleRate / 100
	var es []float64
	peak := 0.0
	for i := 0; i+fl <= len(x); i += fl {
		e := 0.0
		for _, v := range x[i : i+fl] {
			e += float64(v) * float64(v)
		}
		e /= fl
		es = append(es, e)
		peak = max(peak, e)
	}
	sum, n := 0.0, 0
	for _, e := range es {
		if e > peak/1000 {
			sum += e
			n++
		}
	}
	if n == 0 || sum == 0 {
		return 1
	}
	rms := math.Sqrt(sum / float64(n))
	return math.Pow(10, levelDBFS/20) / rms
}

// speechRegions applies the dev set's reference convention to one clean
// track: 10 ms frames above max(peak − 45 dB, −70 dBFS), gaps under 0.3 s
// bridged; with recorded is set (the track is a real recording, with its
// microphone's noise between words), above the noise floor + 12 dB too
// (the dev set's rule for its real voices), the floor being the 10th
// percentile of the frames that are not digital silence.
func speechRegions(x []float32, label string, recorded bool) []Segment {
	const fl = SampleRate / 100
	n := len(x) / fl
	db := make([]float64, n)
	peak := -200.0
	for i := range n {
		e := 0.0
		for _, v := range x[i*fl : (i+1)*fl] {
			e += float64(v) * float64(v)
		}
		db[i] = 10 * math.Log10(e/fl+1e-20)
		peak = max(peak, db[i])
	}
	th := max(peak-45, -70)
	if recorded {
		var live []float64
		for _, v := range db {
			if v > -100 {
				live = append(live, v)
			}
		}
		if len(live) > 0 {
			slices.Sort(live)
			th = max(th, live[len(live)/10]+12)
		}
	}
	var segs []Segment
	start := -1
	for i := 0; i <= n; i++ {
		on := i < n && db[i] > th
		switch {
		case on && start < 0:
			start = i
		case !on && start >= 0:
			s := Segment{label, float64(start) / 100, float64(i) / 100}
			if k := len(segs) - 1; k >= 0 && s.Start-segs[k].End < 0.3 {
				segs[k].End = s.End
			} else {
				segs = append(segs, s)
			}
			start = -1
		}
	}
	return segs
}

func sortSegments(s []Segment) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (s[j].Start < s[j-1].Start || s[j].Start == s[j-1].Start && s[j].Speaker < s[j-1].Speaker); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// pink is Paul Kellet's economy pink-noise filter over white noise.
type pink struct {
	rng        *rand.Rand
	b0, b1, b2 float64
}

func newPink(rng *rand.Rand) *pink { return &pink{rng: rng} }

func (p *pink) next() float64 {
	w := p.rng.NormFloat64()
	p.b0 = 0.99765*p.b0 + w*0.0990460
	p.b1 = 0.96300*p.b1 + w*0.2965164
	p.b2 = 0.57000*p.b2 + w*1.0526913
	// The filter's output RMS for unit white noise is about 3.2.
	return (p.b0 + p.b1 + p.b2 + w*0.1848) / 3.2
}

// opusRoundTrip encodes x with opusenc at kbps (20 ms frames) and decodes
// it back with the server's own decoder (internal/audio/audiofile), same
// length as x.
func opusRoundTrip(ctx context.Context, x []float32, kbps int, tmpDir string) ([]float32, error) {
	wav, ogg := filepath.Join(tmpDir, "mix.wav"), filepath.Join(tmpDir, "mix.opus")
	defer os.Remove(wav)
	defer os.Remove(ogg)
	if err := WriteWAV(wav, x); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "opusenc", "--quiet", "--bitrate", strconv.Itoa(kbps), "--framesize", "20", wav, ogg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: opusenc: %v: %s", ErrTool, err, out)
	}
	out, _, err := audiofile.ReadAll(ogg)
	if err != nil {
		return nil, err
	}
	if len(out) > len(x) {
		out = out[:len(x)]
	}
	return append(out, make([]float32, len(x)-len(out))...), nil
}
