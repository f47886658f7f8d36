package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/asr/engine"
	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/diarize"
	"github.com/parleyhq/parley/internal/jobs"
	"github.com/parleyhq/parley/internal/transcript"
)

// trackFlag collects repeated --track NAME=FILE flags.
type trackFlag []trackSpec

type trackSpec struct{ name, path string }

func (t *trackFlag) String() string { return fmt.Sprint(*t) }

func (t *trackFlag) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(name) == "" || path == "" {
		return fmt.Errorf("want NAME=FILE, got %q", v)
	}
	*t = append(*t, trackSpec{strings.TrimSpace(name), path})
	return nil
}

type transcribeOpts struct {
	asr             engine.Config
	openaiKeyEnv    string
	format, out, id string
	quiet           bool
	diarize         string
	speakers        int
	diarizeMax      time.Duration
	tracks          trackFlag
}

// deprecatedAliases are transcribe's flag names from before it took
// serve's; they keep working for one release, and giving an alias and its
// flag different values is a usage error.
var deprecatedAliases = []struct{ old, cur string }{
	{"engine", "asr-engine"},
	{"lang", "asr-language"},
	{"pool", "asr-streams"},
}

func runTranscribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, format, err := parseTranscribe(args, stderr)
	if err != nil {
		return err
	}
	if o.asr.Name == "openai" {
		if o.asr.OpenAIKey, err = openAIKey(o.openaiKeyEnv, os.LookupEnv); err != nil {
			return err
		}
	}
	return transcribe(ctx, o, format, stdout, stderr)
}

// parseTranscribe reads transcribe's flags and files. Bad arguments are
// reported on stderr and return errUsage.
func parseTranscribe(args []string, stderr io.Writer) (transcribeOpts, transcript.Format, error) {
	fs := flag.NewFlagSet("transcribe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o transcribeOpts
	var openaiRetries int
	// The speech flags are serve's (config.Speech), with defaults for one
	// run on one machine: one decoder per CPU, whisper-1 as the model.
	fs.StringVar(&o.asr.Name, "asr-engine", "pocketsphinx", "speech recogniser: pocketsphinx (embedded, English) or openai (an OpenAI-compatible server you run)")
	fs.StringVar(&o.asr.Language, "asr-language", "en", "language of the speech (ISO 639-1); pocketsphinx knows only en")
	fs.IntVar(&o.asr.Streams, "asr-streams", 0, "utterances recognised at once (default: number of CPUs)")
	fs.StringVar(&o.asr.OpenAIURL, "openai-url", "", "base URL of an OpenAI-compatible transcription server, e.g. http://gpu1:8000")
	fs.StringVar(&o.asr.OpenAIModel, "openai-model", "whisper-1", "model name the server knows")
	fs.StringVar(&o.openaiKeyEnv, "openai-key-env", "", "name of the environment variable holding the API key (default "+keyEnv+", as for serve; the key itself never goes on a command line)")
	fs.DurationVar(&o.asr.OpenAITimeout, "openai-timeout", 60*time.Second, "time limit of one request to the server")
	fs.IntVar(&openaiRetries, "openai-retries", 3, "retries of a request that failed with a 5xx or a timeout")
	fs.String("engine", "", "deprecated alias of --asr-engine")
	fs.String("lang", "", "deprecated alias of --asr-language")
	fs.Int("pool", 0, "deprecated alias of --asr-streams")
	fs.StringVar(&o.format, "format", "", "output format: json, vtt, srt, md, txt, rttm, odt or docx (default: from --out's extension, else txt)")
	fs.StringVar(&o.out, "out", "", "output file (default stdout); written whole or not at all")
	fs.StringVar(&o.id, "id", "", "meeting id in the output (default: the file's base name; for --track, the first track's directory name)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress on stderr")
	fs.StringVar(&o.diarize, "diarize", "auto", "for one mixed FILE: on, off, or auto (on up to --diarize-max); speakers become SPEAKER_1, SPEAKER_2, …")
	fs.IntVar(&o.speakers, "speakers", 0, "number of speakers in a mixed FILE, when known (default: estimated)")
	fs.DurationVar(&o.diarizeMax, "diarize-max", time.Hour, "longest FILE diarized in auto mode (the file is read twice; diarization keeps its features, about 40 MB per hour)")
	fs.Var(&o.tracks, "track", "NAME=FILE: one participant's track; repeat for each (one transcript on one timeline)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: parley transcribe [flags] FILE\n       parley transcribe [flags] --track NAME=FILE --track NAME=FILE ...\n\nTranscribes WAV, FLAC or Ogg/Opus audio.\n\nFlags:")
		fs.PrintDefaults()
	}
	bad := func(format string, args ...any) (transcribeOpts, transcript.Format, error) {
		fmt.Fprintf(stderr, "parley transcribe: "+format+"\n", args...)
		return o, "", errUsage
	}
	// Flags may come after FILE too ("parley transcribe a.wav --format
	// vtt"): the flag package stops at the first argument, so parse on.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return o, "", err
			}
			return o, "", errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if err := applyAliases(fs); err != nil {
		return bad("%v", err)
	}
	switch {
	case len(o.tracks) == 0 && len(files) == 1:
		o.tracks = trackFlag{{name: "", path: files[0]}}
	case len(o.tracks) > 0 && len(files) == 0:
	default:
		fs.Usage()
		return o, "", errUsage
	}
	if o.diarize != "auto" && o.diarize != "on" && o.diarize != "off" {
		return bad("--diarize %q: want auto, on or off", o.diarize)
	}
	format, err := outputFormat(o.format, o.out)
	if err != nil {
		return bad("%v", err)
	}
	if o.id == "" {
		o.id = defaultID(o.tracks)
	}
	if o.asr.Streams <= 0 {
		o.asr.Streams = runtime.NumCPU()
	}
	o.asr.OpenAIRetries = retries(openaiRetries)
	if o.asr.Name == "none" {
		return bad("asr-engine none: transcribe needs a recogniser (pocketsphinx or openai)")
	}
	if err := o.asr.Validate(); err != nil {
		return bad("%v", err)
	}
	return o, format, nil
}

// applyAliases gives each flag the value of its deprecated alias when only
// the alias was set.
func applyAliases(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, a := range deprecatedAliases {
		if !set[a.old] {
			continue
		}
		// Both values print through the same flag type: "04" and "4"
		// agree.
		old := fs.Lookup(a.old).Value.String()
		if !set[a.cur] {
			if err := fs.Set(a.cur, old); err != nil {
				return fmt.Errorf("--%s: %v", a.old, err)
			}
			continue
		}
		if cur := fs.Lookup(a.cur).Value.String(); cur != old {
			return fmt.Errorf("--%s %q and --%s %q disagree (--%s is a deprecated alias of --%s)", a.old, old, a.cur, cur, a.old, a.cur)
		}
	}
	return nil
}

// keyEnv holds the OpenAI-compatible server's key, as for serve.
var keyEnv = config.EnvName("openai-key")

// openAIKey reads the API key from the variable named by --openai-key-env,
// which must then be set, or else from PARLEY_OPENAI_KEY if it is.
func openAIKey(name string, lookup func(string) (string, bool)) (string, error) {
	if name == "" {
		key, _ := lookup(keyEnv)
		return key, nil
	}
	if key, _ := lookup(name); key != "" {
		return key, nil
	}
	return "", fmt.Errorf("environment variable %s (--openai-key-env) is empty", name)
}

func outputFormat(name, out string) (transcript.Format, error) {
	if name != "" {
		return transcript.ParseFormat(name)
	}
	if ext := filepath.Ext(out); ext != "" {
		if f, err := transcript.ParseFormat(ext); err == nil {
			return f, nil
		}
	}
	return transcript.Text, nil
}

func defaultID(tracks trackFlag) string {
	p := tracks[0].path
	if len(tracks) > 1 || tracks[0].name != "" {
		if d := filepath.Base(filepath.Dir(p)); d != "." && d != "/" {
			return d
		}
	}
	return strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
}

// retries maps the flag (0 = no retry) to openai.Config (0 = default).
func retries(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// input is one opened track.
type input struct {
	spec trackSpec
	r    *audiofile.Reader
	dur  float64 // seconds, 0 if unknown
}

func transcribe(ctx context.Context, o transcribeOpts, format transcript.Format, stdout, stderr io.Writer) error {
	// Open every input first: a bad file fails before any work is done.
	var ins []input
	defer func() {
		for _, in := range ins {
			in.r.Close()
		}
	}()
	seen := map[string]bool{}
	for _, t := range o.tracks {
		if t.name != "" && seen[t.name] {
			return fmt.Errorf("track name %q given twice", t.name)
		}
		seen[t.name] = true
		r, err := audiofile.Open(t.path)
		if err != nil {
			return err
		}
		ins = append(ins, input{spec: t, r: r, dur: r.Info().Duration.Seconds()})
	}
	diarizing := false
	if len(ins) == 1 && ins[0].spec.name == "" {
		switch d := ins[0].dur; {
		case o.diarize == "on":
			diarizing = true
		case o.diarize == "auto" && d > 0 && d <= o.diarizeMax.Seconds():
			diarizing = true
		case o.diarize == "auto":
			fmt.Fprintf(stderr, "parley transcribe: %s is longer than --diarize-max %s (or of unknown length): not diarized, one speaker\n", ins[0].spec.path, o.diarizeMax)
		}
	}
	eng, err := engine.New(o.asr)
	if err != nil {
		return err
	}
	defer eng.Close()

	sources := make([]jobs.Source, len(ins))
	for i, in := range ins {
		sources[i] = jobs.Source{Speaker: in.spec.name, Name: in.spec.path, Audio: in.r}
	}
	prog := newProgress(stderr, ins, o.quiet)
	var reopen func() (diarize.SampleSource, io.Closer, error)
	if diarizing {
		// The file is read a second time to diarize it, so that only its
		// features are held, not the audio.
		reopen = func() (diarize.SampleSource, io.Closer, error) {
			r, err := audiofile.Open(ins[0].spec.path)
			return r, r, err
		}
	}
	t, err := jobs.Transcribe(ctx, sources, jobs.TranscribeOptions{
		Reopen:   reopen,
		Meeting:  transcript.Meeting{ID: o.id},
		Engine:   eng,
		Diarize:  diarizing,
		Speakers: o.speakers,
		Progress: prog,
		Logger:   slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	prog.done()
	// What the reader worked around (a header claiming more data than the
	// file holds, odd chunk sizes): the user must know the input was odd.
	for _, in := range ins {
		for _, n := range in.r.Info().Notes {
			fmt.Fprintf(stderr, "parley transcribe: warning: %s: %s\n", in.spec.path, n)
		}
	}
	if err != nil {
		return err
	}
	return writeOutput(o.out, stdout, t, format)
}

// writeOutput writes the transcript to path through a temporary file and a
// rename, so a reader never sees a half-written transcript, or to stdout.
func writeOutput(path string, stdout io.Writer, t *transcript.Transcript, f transcript.Format) error {
	if path == "" || path == "-" {
		return transcript.Write(stdout, t, f)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := transcript.Write(tmp, t, f); err != nil {
		tmp.Close()
		return err
	}
	// CreateTemp makes the file 0600; a transcript is an ordinary file.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// progress reports how much audio has been transcribed, for files long
// enough to make someone wonder (over 2 minutes of audio in all), at most
// every 2 s.
type progress struct {
	w       io.Writer
	on      bool
	mu      sync.Mutex
	total   float64
	done_   float64
	last    time.Time
	started time.Time
}

func newProgress(w io.Writer, ins []input, quiet bool) *progress {
	p := &progress{w: w, started: time.Now(), last: time.Now()}
	for _, in := range ins {
		p.total += in.dur
	}
	p.on = !quiet && p.total > 120
	return p
}

// Add implements jobs.Progress.
func (p *progress) Add(_ int, sec float64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done_ += sec
	if time.Since(p.last) < 2*time.Second {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "transcribe: %5.1f%%  %s of %s audio, %s elapsed\n", 100*p.done_/p.total,
		fmtDur(p.done_), fmtDur(p.total), fmtDur(time.Since(p.started).Seconds()))
}

// Note implements jobs.Progress.
func (p *progress) Note(what string) {
	if p.on {
		fmt.Fprintf(p.w, "transcribe: %s\n", what)
	}
}

func (p *progress) done() {
	if p.on {
		fmt.Fprintf(p.w, "transcribe: done, %s of audio in %s\n", fmtDur(p.done_), fmtDur(time.Since(p.started).Seconds()))
	}
}

func fmtDur(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	return d.String()
}
