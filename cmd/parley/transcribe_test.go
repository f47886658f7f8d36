package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/testkit/asrtest"
	"github.com/parleyhq/parley/internal/testkit/devset"
)

// clipWAV writes a dev-set clip, with lead silence, as a 16-bit WAV.
func clipWAV(t *testing.T, dir, name string, c asrtest.Clip, lead float64) string {
	t.Helper()
	d, err := devset.Dir()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	args := []string{"-q", filepath.Join(d, "stems", c.Meeting, c.Speaker+".flac"), "-b", "16", p, "trim", fmt1(c.Start), fmt1(c.Dur)}
	if lead > 0 {
		args = append(args, "pad", fmt1(lead), "0.5")
	}
	if out, err := exec.Command("sox", args...).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, out)
	}
	return p
}

func fmt1(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func transcribeCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"transcribe"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

type jsonTranscript struct {
	Meeting  struct{ ID string }
	Speakers []struct{ ID, Name string }
	Segments []struct {
		Speaker    string
		Start, End float64
		Text       string
		Words      []struct {
			Word       string
			Start, End float64
		}
	}
}

func TestTranscribeOneFile(t *testing.T) {
	dir := t.TempDir()
	wav := clipWAV(t, dir, "goforward.wav", asrtest.Clips[0], 0)
	out := filepath.Join(dir, "out.json")
	_, stderr, code := transcribeCmd(t, "--out", out, wav)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var tr jsonTranscript
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Meeting.ID != "goforward" || len(tr.Segments) != 1 || tr.Segments[0].Text != "go forward ten meters" || tr.Segments[0].Speaker != "SPEAKER_1" {
		t.Fatalf("%s", b)
	}
	if w := tr.Segments[0].Words; len(w) != 4 || w[0].Start < 0.2 || w[0].Start > 0.6 {
		t.Fatalf("words %+v", w)
	}
}

// TestTranscribeTracks: one file per speaker gives one transcript on one
// timeline, with each speaker's name, in every format.
func TestTranscribeTracks(t *testing.T) {
	dir := t.TempDir()
	// David speaks at ~1.4 s, the bridge at ~0.4 s: the bridge comes first.
	a := clipWAV(t, dir, "david.wav", asrtest.Clips[0], 1.0)
	b := clipWAV(t, dir, "bridge.wav", asrtest.Clips[1], 0)
	stdout, stderr, code := transcribeCmd(t, "--format", "rttm", "--id", "m1", "--track", "David="+a, "--track", "Bridge="+b)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SPEAKER m1 1 ") || !strings.Contains(lines[0], " Bridge ") || !strings.Contains(lines[1], " David ") {
		t.Fatalf("rttm:\n%s", stdout)
	}
	stdout, _, code = transcribeCmd(t, "--format", "vtt", "--track", "David="+a, "--track", "Bridge="+b)
	if code != 0 || !strings.Contains(stdout, "<v David>go forward ten meters") || !strings.Contains(stdout, "<v Bridge>you will now be placed") {
		t.Fatalf("vtt:\n%s", stdout)
	}
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTranscribeBadInput: every bad input fails with a clear message and
// leaves no output file behind (nor touches an existing one).
func TestTranscribeBadInput(t *testing.T) {
	dir := t.TempDir()
	good := clipWAV(t, dir, "good.wav", asrtest.Clips[0], 0)
	wav, _ := os.ReadFile(good)
	rate0 := append([]byte(nil), wav...)
	binary.LittleEndian.PutUint32(rate0[24:], 0)
	cases := []struct {
		name, path, want string
	}{
		{"unsupported", writeFile(t, dir, "notes.wav", []byte("these are my meeting notes, not audio\n")), "unsupported audio format"},
		{"zero-length", writeFile(t, dir, "empty.flac", nil), "empty audio file"},
		{"corrupt", writeFile(t, dir, "corrupt.flac", append([]byte("fLaC"), bytes.Repeat([]byte{0xff}, 64)...)), "corrupt audio file"},
		{"lying rate", writeFile(t, dir, "rate0.wav", rate0), "sample rate 0"},
		{"missing", filepath.Join(dir, "nope.wav"), "no such file"},
	}
	out := writeFile(t, dir, "keep.txt", []byte("previous transcript\n"))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := transcribeCmd(t, "--out", out, c.path)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q, want %q", code, stderr, c.want)
			}
			if b, _ := os.ReadFile(out); string(b) != "previous transcript\n" {
				t.Fatalf("output touched: %q", b)
			}
		})
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

// TestTranscribeLyingLengthWarns: a WAV whose header claims far more data
// than the file holds is transcribed as far as it goes, with a warning.
func TestTranscribeLyingLengthWarns(t *testing.T) {
	dir := t.TempDir()
	good := clipWAV(t, dir, "good.wav", asrtest.Clips[0], 0)
	wav, _ := os.ReadFile(good)
	binary.LittleEndian.PutUint32(wav[40:], 0x7fff0000)
	p := writeFile(t, dir, "lie.wav", wav)
	stdout, stderr, code := transcribeCmd(t, p)
	if code != 0 || !strings.Contains(stdout, "go forward ten meters") || !strings.Contains(stderr, "warning") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

func TestTranscribeUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"a.wav", "b.wav"}, {"--format", "pdf", "a.wav"}, {"--track", "noequals"}, {"--track", "x=a.wav", "b.wav"}, {"--diarize", "maybe", "a.wav"}} {
		if _, _, code := transcribeCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	dir := t.TempDir()
	good := clipWAV(t, dir, "good.wav", asrtest.Clips[0], 0)
	if _, stderr, code := transcribeCmd(t, "--asr-language", "fr", good); code != 2 || !strings.Contains(stderr, "English only") {
		t.Errorf("pocketsphinx in French: %d %s", code, stderr)
	}
	if _, stderr, code := transcribeCmd(t, "--track", "a="+good, "--track", "a="+good); code != 1 || !strings.Contains(stderr, "twice") {
		t.Errorf("duplicate track: %d %s", code, stderr)
	}
}

// TestTranscribeOpenAIHangingServer: an ASR server that never answers makes
// the command fail after its timeouts, with no output written.
func TestTranscribeOpenAIHangingServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a closed connection only once the body is read
		<-r.Context().Done()
	}))
	defer srv.Close()
	dir := t.TempDir()
	good := clipWAV(t, dir, "good.wav", asrtest.Clips[0], 0)
	out := filepath.Join(dir, "out.json")
	_, stderr, code := transcribeCmd(t, "--asr-engine", "openai", "--openai-url", srv.URL, "--openai-timeout", "200ms", "--openai-retries", "1", "--out", out, good)
	if code != 1 || !strings.Contains(stderr, "could not be recognised") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output written: %v", err)
	}
}

// TestTranscribeOpenAI: the openai engine end to end against a server that
// answers verbose_json.
func TestTranscribeOpenAI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k3y" || r.FormValue("language") != "fr" {
			http.Error(w, "bad request", 400)
			return
		}
		w.Write([]byte(`{"text":"avance de dix mètres","words":[{"word":"avance","start":0.4,"end":0.8},{"word":"de","start":0.8,"end":0.9},{"word":"dix","start":0.9,"end":1.3},{"word":"mètres","start":1.3,"end":2.0}]}`))
	}))
	defer srv.Close()
	t.Setenv("PARLEY_TEST_KEY", "k3y")
	dir := t.TempDir()
	good := clipWAV(t, dir, "good.wav", asrtest.Clips[0], 0)
	stdout, stderr, code := transcribeCmd(t, "--asr-engine", "openai", "--openai-url", srv.URL+"/v1", "--openai-key-env", "PARLEY_TEST_KEY", "--asr-language", "fr", "--format", "srt", good)
	if code != 0 || !strings.Contains(stdout, "SPEAKER_1: avance de dix mètres") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestTranscribeMixedFileDiarized: one recording of two voices (the bridge
// prompt voice, then David) is diarized and each sentence carries its
// speaker's label.
func TestTranscribeMixedFileDiarized(t *testing.T) {
	dir := t.TempDir()
	b := clipWAV(t, dir, "b.wav", asrtest.Clip{Meeting: "dev-r-en-01", Speaker: "bridge", Start: 1.1, Dur: 6.4}, 0)
	d1 := clipWAV(t, dir, "d1.wav", asrtest.Clips[0], 0)
	d2 := clipWAV(t, dir, "d2.wav", asrtest.Clips[2], 0)
	mix := filepath.Join(dir, "mix.wav")
	if out, err := exec.Command("sox", b, d1, d2, mix).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, out)
	}
	stdout, stderr, code := transcribeCmd(t, mix, "--format", "json") // flags after FILE
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var tr jsonTranscript
	if err := json.Unmarshal([]byte(stdout), &tr); err != nil {
		t.Fatal(err)
	}
	if len(tr.Segments) != 4 || len(tr.Speakers) != 2 {
		t.Fatalf("%s", stdout)
	}
	s := tr.Segments
	if s[0].Speaker != s[1].Speaker || s[2].Speaker != s[3].Speaker || s[0].Speaker == s[2].Speaker {
		t.Fatalf("speakers %q %q %q %q", s[0].Speaker, s[1].Speaker, s[2].Speaker, s[3].Speaker)
	}
	if s[2].Text != "go forward ten meters" || !strings.HasPrefix(s[0].Speaker, "SPEAKER_") {
		t.Fatalf("%+v", s[2])
	}
	// --diarize off: one speaker.
	stdout, _, _ = transcribeCmd(t, "--diarize", "off", "--format", "rttm", mix)
	if strings.Count(stdout, "SPEAKER_1") != 4 {
		t.Fatalf("undiarized:\n%s", stdout)
	}
}
