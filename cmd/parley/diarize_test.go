package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/diarize"
	"github.com/parleyhq/parley/internal/testkit/devset"
)

// writeWAV writes interleaved 16-bit PCM.
func writeWAV(t *testing.T, path string, rate, channels int, x []float32) {
	t.Helper()
	var b bytes.Buffer
	n := len(x) * 2
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(channels), uint32(rate), uint32(rate * channels * 2), uint16(channels * 2), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(n))
	for _, v := range x {
		binary.Write(&b, binary.LittleEndian, int16(math.Round(float64(v)*32767)))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tone is a harmonic, vowel-like signal (the VAD hears it as voiced).
func tone(f0 float64, rate int, seconds float64) []float32 {
	out := make([]float32, int(seconds*float64(rate)))
	for i := range out {
		t := float64(i) / float64(rate)
		s := 0.0
		for h := 1; h <= 12 && float64(h)*f0 < float64(rate)/2; h++ {
			s += math.Sin(2*math.Pi*float64(h)*f0*t) / float64(h)
		}
		out[i] = float32(0.1 * s * (0.6 + 0.4*math.Sin(2*math.Pi*4*t)))
	}
	return out
}

func TestDiarizeCommandDevMeeting(t *testing.T) {
	ms, err := devset.Meetings()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"diarize", ms[2].Mix}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	recs, err := diarize.ReadRTTM(&out)
	if err != nil || len(recs) == 0 {
		t.Fatalf("output: %v, %d records", err, len(recs))
	}
	for _, r := range recs {
		if r.File != ms[2].ID || !strings.HasPrefix(r.Speaker, "SPEAKER_") {
			t.Fatalf("record %+v", r)
		}
	}
	// JSON to a file, with a forced count.
	path := filepath.Join(t.TempDir(), "out.json")
	errb.Reset()
	if code := run(context.Background(), []string{"diarize", "--speakers", "2", "--format", "json", "--out", path, ms[2].Mix}, &out, &errb); code != 0 {
		t.Fatalf("json: exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		File     string
		Speakers []string
		Turns    []struct {
			Speaker    string
			Start, End float64
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.File != ms[2].ID || len(doc.Speakers) != 2 || len(doc.Turns) == 0 {
		t.Errorf("json %s: %v", b, err)
	}
}

func TestDiarizeCommandConvertsAndNotes(t *testing.T) {
	dir := t.TempDir()
	// 8 kHz stereo: the reader resamples and mixes down, and says so.
	mono := tone(140, 8000, 3)
	stereo := make([]float32, 2*len(mono))
	for i, v := range mono {
		stereo[2*i], stereo[2*i+1] = v, v
	}
	path := filepath.Join(dir, "phone call.wav")
	writeWAV(t, path, 8000, 2, stereo)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"diarize", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"resampled from 8000 Hz", "mixed down from 2 channels"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr %q lacks %q", errb.String(), want)
		}
	}
	recs, err := diarize.ReadRTTM(&out)
	if err != nil || len(recs) == 0 {
		t.Fatalf("no turns for 3 s of a voiced tone: %v %q", err, out.String())
	}
	if recs[0].File != "phone_call" {
		t.Errorf("file id %q, want phone_call", recs[0].File)
	}
}

func TestDiarizeCommandSilence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "silence.wav")
	writeWAV(t, path, 16000, 1, make([]float32, 16000*3))
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"diarize", path}, &out, &errb); code != 0 || out.Len() != 0 {
		t.Errorf("silence: exit %d, output %q, stderr %q", code, out.String(), errb.String())
	}
}

func TestDiarizeCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.wav")
	writeWAV(t, corrupt, 16000, 1, tone(120, 16000, 1))
	b, _ := os.ReadFile(corrupt)
	os.WriteFile(corrupt, b[:30], 0o644) // header cut short
	text := filepath.Join(dir, "notes.wav")
	os.WriteFile(text, []byte("these are meeting notes, not audio\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"diarize", corrupt}, 1, "corrupt"},
		{[]string{"diarize", text}, 1, "unsupported audio format"},
		{[]string{"diarize", filepath.Join(dir, "missing.wav")}, 1, "no such file"},
		{[]string{"diarize"}, 2, "usage"},
		{[]string{"diarize", "--speakers", "2", "--max-speakers", "3", corrupt}, 2, "either an exact speaker count or a range"},
		{[]string{"diarize", "--format", "xml", corrupt}, 2, "unknown format"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), c.args, &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errb.String(), c.code, c.msg)
		}
	}
}

func TestBenchDiarizeFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"bench-diarize", "-no-such-flag"}, &out, &errb); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	errb.Reset()
	if code := run(context.Background(), []string{"bench-diarize", "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-hour") || !strings.Contains(errb.String(), "-perturb") || !strings.Contains(errb.String(), "-hard") || !strings.Contains(errb.String(), "-known-count") || !strings.Contains(errb.String(), "-real") {
		t.Errorf("-h: exit %d, usage %q", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"bench-diarize", "-known-count", "-perturb"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "give one") {
		t.Errorf("-known-count with -perturb: exit %d, %q", code, errb.String())
	}
}
