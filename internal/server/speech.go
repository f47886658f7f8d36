package server

import (
	"context"
	"fmt"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/asr/openai"
	"github.com/parleyhq/parley/internal/asr/pocketsphinx"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/store"
)

// newEngine builds the configured speech recogniser (nil for "none").
func newEngine(c config.Speech) (asr.Engine, error) {
	switch c.Engine {
	case "pocketsphinx":
		// Lazy: decoders load when a meeting is first transcribed, so a
		// server nobody transcribes does not carry ~90 MB per decoder.
		return pocketsphinx.New(pocketsphinx.Config{Pool: c.Streams, Lazy: true})
	case "openai":
		return openai.New(openai.Config{BaseURL: c.OpenAIURL, Model: c.OpenAIModel, APIKey: c.OpenAIKey,
			Language: c.Language, Concurrency: c.Streams})
	case "none":
		return nil, nil
	}
	return nil, fmt.Errorf("%w: engine %q", asr.ErrConfig, c.Engine)
}

// openStore opens the SQLite database under the data directory.
func openStore(ctx context.Context, dataDir string) (*store.SQLite, error) {
	return store.OpenSQLite(ctx, dataDir)
}
