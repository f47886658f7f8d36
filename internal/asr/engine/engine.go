// Package engine builds the speech recogniser a command names: `parley
// serve` and `parley transcribe` take the same settings (--asr-engine,
// --asr-language, --asr-streams, --openai-*), check them with the same
// rules and fail with the same messages.
package engine

import (
	"time"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/asr/openai"
	"github.com/parleyhq/parley/internal/asr/pocketsphinx"
	"github.com/parleyhq/parley/internal/config"
)

// Config names an engine and its settings.
type Config struct {
	// Name is pocketsphinx (embedded, English), openai (an
	// OpenAI-compatible server) or none.
	Name string
	// Language is the speech's ISO 639-1 code; pocketsphinx knows only en.
	Language string
	// Streams bounds the utterances recognised at once: pocketsphinx
	// decoders (~90 MB each) or openai requests in flight. 1 to 256.
	Streams int

	// The OpenAI-compatible server: base URL, model name and API key.
	OpenAIURL, OpenAIModel, OpenAIKey string
	// OpenAITimeout bounds one request; 0 means the engine's default (60 s).
	OpenAITimeout time.Duration
	// OpenAIRetries is how often a request that failed with a 5xx or a
	// timeout is retried; 0 means the engine's default (3), negative none.
	OpenAIRetries int

	// Lazy loads no pocketsphinx decoder until the first utterance, so a
	// server nobody transcribes does not carry ~90 MB per decoder.
	Lazy bool
}

// Validate checks the settings with the rules of serve's configuration
// (config.Speech), so both commands word a problem the same way. The error
// wraps config.ErrInvalid.
func (c Config) Validate() error {
	return config.Speech{
		Engine:      c.Name,
		Language:    c.Language,
		OpenAIURL:   c.OpenAIURL,
		OpenAIModel: c.OpenAIModel,
		OpenAIKey:   c.OpenAIKey,
		Streams:     c.Streams,
	}.Validate()
}

// New validates c and builds its engine; "none" gives a nil engine and no
// error. Settings that fail Validate give an error wrapping
// config.ErrInvalid; an engine that cannot start (missing model files)
// one wrapping asr.ErrConfig.
func New(c Config) (asr.Engine, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	// Each engine is returned only without error: a nil *Engine in the
	// interface would not compare equal to nil.
	switch c.Name {
	case "pocketsphinx":
		e, err := pocketsphinx.New(pocketsphinx.Config{Pool: c.Streams, Lazy: c.Lazy})
		if err != nil {
			return nil, err
		}
		return e, nil
	case "openai":
		e, err := openai.New(openai.Config{BaseURL: c.OpenAIURL, Model: c.OpenAIModel, APIKey: c.OpenAIKey,
			Language: c.Language, Concurrency: c.Streams, Timeout: c.OpenAITimeout, Retries: c.OpenAIRetries})
		if err != nil {
			return nil, err
		}
		return e, nil
	}
	return nil, nil // "none", the one other name Validate accepts
}
