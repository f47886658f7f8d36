package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/config"
)

func TestNewRejectsBadSettings(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown name", Config{Name: "whisper", Language: "en", Streams: 1}, `asr-engine "whisper": want pocketsphinx, openai or none`},
		{"pocketsphinx in French", Config{Name: "pocketsphinx", Language: "fr", Streams: 1}, `asr-language "fr": the pocketsphinx engine is English only`},
		{"openai without URL", Config{Name: "openai", Language: "en", Streams: 1, OpenAIModel: "whisper-1"}, `openai-url "": want http(s)://host[:port]`},
		{"openai without model", Config{Name: "openai", Language: "en", Streams: 1, OpenAIURL: "http://gpu1:8000"}, "openai-model is required"},
		{"no streams", Config{Name: "pocketsphinx", Language: "en"}, "asr-streams 0: 1 to 256"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := New(c.cfg)
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an ErrInvalid saying %q", err, c.want)
			}
			if e != nil {
				t.Fatalf("an engine came with the error: %v", e)
			}
		})
	}
}

// TestSameWordsAsServe: a bad setting reads the same from the factory as
// from serve's configuration.
func TestSameWordsAsServe(t *testing.T) {
	for _, sp := range []config.Speech{
		{Engine: "whisper", Language: "en", Streams: 4},
		{Engine: "pocketsphinx", Language: "de", Streams: 4},
		{Engine: "openai", Language: "fr", Streams: 4, OpenAIURL: "gpu1:8000"},
		{Engine: "pocketsphinx", Language: "en", Streams: 300},
	} {
		cfg := config.Default()
		cfg.Speech = sp
		serve := cfg.Validate()
		_, factory := New(Config{Name: sp.Engine, Language: sp.Language, Streams: sp.Streams, OpenAIURL: sp.OpenAIURL, OpenAIModel: sp.OpenAIModel})
		if serve == nil || factory == nil || serve.Error() != factory.Error() {
			t.Errorf("%+v:\n serve   %v\n factory %v", sp, serve, factory)
		}
	}
}

func TestNoneIsNoEngine(t *testing.T) {
	e, err := New(Config{Name: "none", Streams: 1})
	if err != nil || e != nil {
		t.Fatalf("none: %v, %v", e, err)
	}
}

func TestPocketsphinx(t *testing.T) {
	e, err := New(Config{Name: "pocketsphinx", Language: "en", Streams: 1, Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Name() != "pocketsphinx" {
		t.Fatalf("built %q", e.Name())
	}
}

// TestOpenAISettingsReachTheServer: language, model and key go into the
// request, and a failing request is retried as often as asked.
func TestOpenAISettingsReachTheServer(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.FormValue("language")+" "+r.FormValue("model")+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	e, err := New(Config{Name: "openai", Language: "fr", Streams: 2, OpenAIURL: srv.URL, OpenAIModel: "large-v3",
		OpenAIKey: "k3y", OpenAITimeout: time.Second, OpenAIRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Name() != "openai" {
		t.Fatalf("built %q", e.Name())
	}
	ctx := context.Background()
	s, err := e.NewStream(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, make([]float32, asr.SampleRate)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Final(ctx); err == nil {
		t.Fatal("a failing server gave a result")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Errorf("%d requests, want 1 + 2 retries", len(got))
	}
	for _, g := range got {
		if g != "fr large-v3 Bearer k3y" {
			t.Errorf("request carried %q", g)
		}
	}
}
