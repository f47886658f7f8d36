// Package asrtest loads short pieces of real speech for engine tests: the
// dev set's stems cut with sox (installed by scripts/setup-debian.sh), so
// the tests need no audio decoder of their own.
package asrtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/parleyhq/parley/internal/testkit/devset"
)

// Clip is a piece of a dev-set stem and what is said in it.
type Clip struct {
	Meeting, Speaker string
	Start, Dur       float64 // seconds in the stem
	Text             string  // reference words, lower case
}

// Clips are short utterances of real (not synthetic) speech from dev-r-en-01
// that pocketsphinx's en-us model recognises well; each starts with about
// 0.4-0.5 s of silence.
var Clips = []Clip{
	{"dev-r-en-01", "david", 7.8, 2.6, "go forward ten meters"},
	{"dev-r-en-01", "bridge", 1.1, 3.0, "you will now be placed into the conference"},
	{"dev-r-en-01", "david", 17.3, 2.2, "two nine three four zero"},
}

// Load returns the clip as 16 kHz mono float32 samples.
func Load(tb testing.TB, c Clip) []float32 {
	tb.Helper()
	dir, err := devset.Dir()
	if err != nil {
		tb.Fatalf("dev set: %v", err)
	}
	path := filepath.Join(dir, "stems", c.Meeting, c.Speaker+".flac")
	pcm, err := Sox(path, c.Start, c.Dur)
	if err != nil {
		tb.Fatal(err)
	}
	return pcm
}

// Sox decodes an audio file (any format sox reads) to 16 kHz mono float32,
// optionally trimmed (dur <= 0: to the end).
func Sox(path string, start, dur float64) ([]float32, error) {
	args := []string{"-q", path, "-t", "raw", "-r", "16000", "-c", "1", "-e", "signed", "-b", "16", "-"}
	if start > 0 || dur > 0 {
		args = append(args, "trim", strconv.FormatFloat(start, 'f', 3, 64))
		if dur > 0 {
			args = append(args, strconv.FormatFloat(dur, 'f', 3, 64))
		}
	}
	out, err := exec.Command("sox", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("sox %s: %w", path, err)
	}
	s := make([]int16, len(out)/2)
	if err := binary.Read(bytes.NewReader(out[:len(s)*2]), binary.LittleEndian, s); err != nil {
		return nil, err
	}
	f := make([]float32, len(s))
	for i, v := range s {
		f[i] = float32(v) / 32768
	}
	return f, nil
}

// Silence is n seconds of digital silence.
func Silence(sec float64) []float32 { return make([]float32, int(sec*16000)) }
