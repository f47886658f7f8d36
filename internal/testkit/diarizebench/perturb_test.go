package diarizebench

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
)

// TestPerturb: a perturbed copy has 10 ms of silence before the audio,
// which is 1 dB quieter within a 16-bit step or so (the dither and the
// rounding), and its references start 10 ms later.
func TestPerturb(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	for _, d := range []string{"rttm", "uem"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	x := make([]float32, meetsynth.SampleRate)
	for i := range x {
		x[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/meetsynth.SampleRate))
	}
	wav := filepath.Join(src, "m1.wav")
	if err := meetsynth.WriteWAV(wav, x); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(src, "rttm", "m1.rttm"), "SPEAKER m1 1 0.250 0.500 <NA> <NA> ada <NA> <NA>\n")
	write(filepath.Join(src, "uem", "m1.uem"), "m1 1 0.000 1.000\n")
	s := Set{Name: "t", IDs: []string{"m1"}, Audio: map[string]string{"m1": wav},
		RTTMDir: filepath.Join(src, "rttm"), UEMDir: filepath.Join(src, "uem")}
	out, err := Perturb(s, Perturbations[4], dst)
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := audiofile.ReadAll(out.Audio["m1"])
	if err != nil {
		t.Fatal(err)
	}
	const pad = meetsynth.SampleRate / 100
	if len(y) != pad+len(x) {
		t.Fatalf("%d samples, want %d", len(y), pad+len(x))
	}
	g := math.Pow(10, -1.0/20)
	dithered := 0
	for i, v := range y {
		want := 0.0
		if i >= pad {
			want = float64(x[i-pad]) * g
		}
		d := math.Abs(float64(v)-want) * 32767
		if i < pad && v != 0 || d > 3 {
			t.Fatalf("sample %d: %v, want %v (within 3 steps: dither, two roundings, the reader's 1/32768 scale)", i, v, want)
		}
		if d > 0.51 {
			dithered++
		}
	}
	if dithered < len(x)/4 {
		t.Errorf("%d samples moved by the dither of %d", dithered, len(x))
	}
	for p, want := range map[string]string{
		filepath.Join(out.RTTMDir, "m1.rttm"): "SPEAKER m1 1 0.260 0.500 <NA> <NA> ada <NA> <NA>",
		filepath.Join(out.UEMDir, "m1.uem"):   "m1 1 0.010 1.010",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(b)); got != want {
			t.Errorf("%s: %q, want %q", filepath.Base(p), got, want)
		}
	}
}
