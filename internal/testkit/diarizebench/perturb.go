package diarizebench

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
)

// Perturbation is a change to a meeting's audio too small to change who
// spoke when: a diarizer whose result moves with it is unstable.
type Perturbation struct {
	Name   string
	Dither uint64        // seed of a ±1 LSB (16-bit) dither; 0: none
	GainDB float64       // gain applied
	Shift  time.Duration // silence put before the audio; references move with it
}

// Perturbations are five copies of each meeting: dither, ±1 dB, a 10 ms
// shift, and the three together.
var Perturbations = []Perturbation{
	{Name: "dither", Dither: 1},
	{Name: "+1dB", GainDB: 1},
	{Name: "-1dB", GainDB: -1},
	{Name: "shift", Shift: 10 * time.Millisecond},
	{Name: "all", Dither: 5, GainDB: -1, Shift: 10 * time.Millisecond},
}

// apply returns the perturbed copy of 16 kHz samples.
func (p Perturbation) apply(x []float32) []float32 {
	pad := int(p.Shift.Seconds() * meetsynth.SampleRate)
	out := make([]float32, pad+len(x))
	g := float32(math.Pow(10, p.GainDB/20))
	var rng *rand.Rand
	if p.Dither != 0 {
		rng = rand.New(rand.NewPCG(p.Dither, 0x5eed))
	}
	for i, v := range x {
		v *= g
		if rng != nil {
			v += float32(rng.IntN(3)-1) / 32767
		}
		out[pad+i] = v
	}
	return out
}

// Perturb writes s's meetings with p applied under dir (audio/, rttm/,
// uem/, the references shifted as the audio is) and returns that set.
func Perturb(s Set, p Perturbation, dir string) (Set, error) {
	out := Set{Name: s.Name + "/" + p.Name, Audio: map[string]string{},
		RTTMDir: filepath.Join(dir, "rttm"), UEMDir: filepath.Join(dir, "uem")}
	for _, d := range []string{"audio", "rttm", "uem"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return Set{}, err
		}
	}
	shift := p.Shift.Seconds()
	for _, id := range s.IDs {
		x, _, err := audiofile.ReadAll(s.Audio[id])
		if err != nil {
			return Set{}, fmt.Errorf("%s: %w", id, err)
		}
		wav := filepath.Join(dir, "audio", id+".wav")
		if err := meetsynth.WriteWAV(wav, p.apply(x)); err != nil {
			return Set{}, err
		}
		// RTTM: SPEAKER file channel start duration …; UEM: file channel start end.
		if err := shiftFields(filepath.Join(s.RTTMDir, id+".rttm"), filepath.Join(out.RTTMDir, id+".rttm"), shift, 3); err != nil {
			return Set{}, err
		}
		if err := shiftFields(filepath.Join(s.UEMDir, id+".uem"), filepath.Join(out.UEMDir, id+".uem"), shift, 2, 3); err != nil {
			return Set{}, err
		}
		out.IDs = append(out.IDs, id)
		out.Audio[id] = wav
	}
	return out, nil
}

// shiftFields copies a whitespace-separated text file, adding by to the
// fields at the given indexes of each line that has them.
func shiftFields(src, dst string, by float64, fields ...int) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var out strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for _, i := range fields {
			if i >= len(f) || strings.HasPrefix(f[0], ";") {
				continue
			}
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return fmt.Errorf("%s: field %d of %q: %v", src, i+1, sc.Text(), err)
			}
			f[i] = strconv.FormatFloat(v+by, 'f', 3, 64)
		}
		out.WriteString(strings.Join(f, " "))
		out.WriteByte('\n')
	}
	return os.WriteFile(dst, []byte(out.String()), 0o644)
}
