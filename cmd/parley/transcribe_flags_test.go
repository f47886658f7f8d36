package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestTranscribeDeprecatedFlags: --engine, --lang and --pool are read as
// --asr-engine, --asr-language and --asr-streams for one release, -h says
// so, and an alias may not contradict the flag it stands for.
func TestTranscribeDeprecatedFlags(t *testing.T) {
	parse := func(args ...string) (transcribeOpts, string, error) {
		var stderr bytes.Buffer
		o, _, err := parseTranscribe(append(args, "a.wav"), &stderr)
		return o, stderr.String(), err
	}
	const url = "http://gpu1:8000"
	cur, _, err := parse("--asr-engine", "openai", "--asr-language", "fr", "--asr-streams", "3", "--openai-url", url)
	if err != nil {
		t.Fatal(err)
	}
	if cur.asr.Name != "openai" || cur.asr.Language != "fr" || cur.asr.Streams != 3 || cur.asr.OpenAIURL != url {
		t.Fatalf("new spelling read as %+v", cur.asr)
	}
	old, _, err := parse("--engine", "openai", "--lang", "fr", "--pool", "3", "--openai-url", url)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(old, cur) {
		t.Fatalf("old spelling read as\n %+v\nnew as\n %+v", old, cur)
	}
	both, _, err := parse("--engine", "openai", "--asr-engine", "openai", "--lang", "fr", "--asr-language", "fr", "--pool", "03", "--asr-streams", "3", "--openai-url", url)
	if err != nil || !reflect.DeepEqual(both, cur) {
		t.Fatalf("both spellings, same values: %v\n %+v", err, both)
	}
	for _, args := range [][]string{
		{"--engine", "openai", "--asr-engine", "pocketsphinx"},
		{"--asr-language", "fr", "--lang", "en"},
		{"--pool", "2", "--asr-streams", "3"},
	} {
		_, stderr, err := parse(append(args, "--openai-url", url)...)
		if !errors.Is(err, errUsage) || !strings.Contains(stderr, "disagree") || !strings.Contains(stderr, "deprecated alias") {
			t.Errorf("%v: %v, %q", args, err, stderr)
		}
	}
	if _, _, code := transcribeCmd(t, "--pool", "2", "--asr-streams", "3", "a.wav"); code != 2 {
		t.Errorf("contradicting alias: exit %d, want 2", code)
	}
	_, help, code := transcribeCmd(t, "-h")
	if code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	for _, a := range deprecatedAliases {
		if !regexp.MustCompile(`-` + a.old + ` \w+\n\s+deprecated alias of --` + a.cur + `\n`).MatchString(help) {
			t.Errorf("-h does not list --%s as a deprecated alias of --%s:\n%s", a.old, a.cur, help)
		}
	}
}

// TestEngineErrorsSameAsServe: serve and transcribe reject the same speech
// settings with the same words and a usage exit status.
func TestEngineErrorsSameAsServe(t *testing.T) {
	for _, args := range [][]string{
		{"--asr-language", "fr"},
		{"--asr-engine", "openai", "--openai-model", "whisper-1"},
		{"--asr-engine", "openai", "--openai-model", "whisper-1", "--openai-url", "gpu1:8000"},
		{"--asr-engine", "kaldi"},
		{"--asr-streams", "300"},
	} {
		var serve, transcribe bytes.Buffer
		sc := run(context.Background(), append([]string{"serve"}, args...), io.Discard, &serve)
		tc := run(context.Background(), append([]string{"transcribe", "a.wav"}, args...), io.Discard, &transcribe)
		s, ok1 := strings.CutPrefix(serve.String(), "parley serve: invalid configuration: ")
		tr, ok2 := strings.CutPrefix(transcribe.String(), "parley transcribe: invalid configuration: ")
		if sc != 2 || tc != 2 || !ok1 || !ok2 || s != tr {
			t.Errorf("%v:\n serve      exit %d %q\n transcribe exit %d %q", args, sc, serve.String(), tc, transcribe.String())
		}
	}
}

func TestOpenAIKeyFromEnvironment(t *testing.T) {
	env := map[string]string{"PARLEY_OPENAI_KEY": "serve-key", "MY_KEY": "mine", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, c := range []struct{ name, want string }{{"", "serve-key"}, {"MY_KEY", "mine"}} {
		if key, err := openAIKey(c.name, lookup); err != nil || key != c.want {
			t.Errorf("--openai-key-env %q: %q, %v; want %q", c.name, key, err, c.want)
		}
	}
	for _, name := range []string{"EMPTY", "UNSET"} {
		if key, err := openAIKey(name, lookup); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("--openai-key-env %s: %q, %v; want an error naming it", name, key, err)
		}
	}
	delete(env, "PARLEY_OPENAI_KEY")
	if key, err := openAIKey("", lookup); err != nil || key != "" {
		t.Errorf("no key anywhere: %q, %v; want none and no error", key, err)
	}
}
