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
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: parley serve [flags]\n\nRuns the meeting server. Every flag can also be set in a JSON file (--config) or as PARLEY_* environment variables.")
		fs.PrintDefaults()
	}
	cfg, err := config.Load(fs, args, os.LookupEnv)
	if err != nil {
		if err == flag.ErrHelp {
			return err
		}
		// The flag package has printed its own errors; a bad value of the
		// file, the environment or a flag is reported here.
		if errors.Is(err, config.ErrInvalid) {
			fmt.Fprintf(stderr, "parley serve: %v\n", err)
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var level slog.Level
	level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case err := <-srv.Done():
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}
