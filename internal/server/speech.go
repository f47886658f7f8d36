package server

import (
	"context"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/asr/engine"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/store"
)

// newEngine builds the configured speech recogniser (nil for "none").
func newEngine(c config.Speech) (asr.Engine, error) {
	return engine.New(engine.Config{
		Name:        c.Engine,
		Language:    c.Language,
		Streams:     c.Streams,
		OpenAIURL:   c.OpenAIURL,
		OpenAIModel: c.OpenAIModel,
		OpenAIKey:   c.OpenAIKey,
		// Decoders load when a meeting is first transcribed.
		Lazy: true,
	})
}

// newFinalEngine builds the recogniser of --final-asr-engine (nil when
// it is not set).
func newFinalEngine(c config.Speech) (asr.Engine, error) {
	if c.FinalEngine == "" {
		return nil, nil
	}
	return engine.New(engine.Config{Name: c.FinalEngine, Language: c.Language, Streams: c.Streams,
		OpenAIURL: c.FinalOpenAIURL, OpenAIModel: c.FinalOpenAIModel, OpenAIKey: c.FinalOpenAIKey, Lazy: true})
}

// openStore opens the PostgreSQL database when one is configured, else
// the SQLite one under the data directory.
func openStore(ctx context.Context, cfg config.Config) (*store.DB, error) {
	if cfg.Postgres != "" {
		return store.OpenPostgres(ctx, cfg.Postgres)
	}
	return store.OpenSQLite(ctx, cfg.DataDir)
}
