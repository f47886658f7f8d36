package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
)

func runServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	cfg, log, err := loadConfig("serve", "Runs the meeting server.", args, stderr, (*config.Config).Validate)
	if err != nil {
		return err
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		if len(cfg.NATS) > 0 && cfg.DrainWait > 0 {
			log.Info("draining: meetings go on here, no new room comes", "for", cfg.DrainWait)
			dctx, cancel := context.WithTimeout(context.Background(), cfg.DrainWait)
			srv.Drain(dctx)
			cancel()
		}
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case err := <-srv.Done():
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// runWorker runs background jobs for the nodes that share its
// PostgreSQL database (and S3 bucket) until it is stopped.
func runWorker(ctx context.Context, args []string, _, stderr io.Writer) error {
	cfg, log, err := loadConfig("worker", "Runs the jobs any node may run (uploads kept in the S3 bucket, summaries, retention) for the nodes "+
		"sharing its --postgres database; serves no meeting. It takes serve's flags (those it has no use for are ignored).",
		args, stderr, (*config.Config).ValidateWorker)
	if err != nil {
		return err
	}
	w, err := server.NewWorker(cfg, log)
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// loadConfig reads serve's (or worker's) configuration: defaults, then
// --config's file, the environment, the flags; validate checks it.
func loadConfig(cmd, about string, args []string, stderr io.Writer, validate func(*config.Config) error) (config.Config, *slog.Logger, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: parley %s [flags]\n\n%s Every flag can also be set in a JSON file (--config) or as PARLEY_* environment variables.\n", cmd, about)
		fs.PrintDefaults()
	}
	cfg, err := config.Load(fs, args, os.LookupEnv)
	if err == nil {
		err = validate(&cfg)
	}
	if err != nil {
		if err == flag.ErrHelp {
			return cfg, nil, err
		}
		// The flag package has printed its own errors; a bad value of the
		// file, the environment or a flag is reported here.
		if errors.Is(err, config.ErrInvalid) {
			fmt.Fprintf(stderr, "parley %s: %v\n", cmd, err)
		}
		return cfg, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	var level slog.Level
	level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	return cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), nil
}
