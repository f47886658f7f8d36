package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/testkit/loadtest"
)

func runLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadtest.Config
	var ifaces string
	var asJSON bool
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "server base URL")
	fs.StringVar(&cfg.MetricsURL, "metrics-url", "http://127.0.0.1:9464", "base URL of the server's metrics listener (--metrics-listen), for its CPU and memory figures; empty: none")
	fs.StringVar(&cfg.Room, "room", "load-test-room", "room to join")
	fs.IntVar(&cfg.VideoPublishers, "video-publishers", 1, "participants publishing video (simulcast, 3 layers ~150/500/1500 kb/s)")
	fs.IntVar(&cfg.AudioPublishers, "audio-publishers", 1, "participants publishing Opus audio (~32 kb/s)")
	fs.IntVar(&cfg.Subscribers, "subscribers", 5, "participants receiving every published track")
	fs.StringVar(&cfg.Layer, "layer", "high", "simulcast layer subscribers ask for: high, medium or low")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measurement window, after everyone joined and a settle time")
	fs.DurationVar(&cfg.Settle, "settle", 2*time.Second, "wait after the last join before measuring")
	fs.Float64Var(&cfg.JoinRate, "join-rate", 20, "joins per second")
	fs.StringVar(&cfg.Codec, "codec", "vp8", "video codec: vp8 or h264")
	fs.BoolVar(&cfg.NoSimulcast, "no-simulcast", false, "publish one video layer instead of three")
	fs.BoolVar(&cfg.Record, "record", false, "the first publisher records the meeting (it must create the room)")
	fs.BoolVar(&cfg.Burst, "burst", false, "send each video frame's packets back to back (default: paced like a browser, 2.5x the bitrate)")
	fs.StringVar(&cfg.AudioFile, "audio-file", "", "Ogg/Opus file (20 ms packets) to send instead of synthetic audio")
	fs.StringVar(&cfg.VideoFile, "video-file", "", "IVF (VP8) file to send instead of synthetic video")
	fs.StringVar(&ifaces, "ice-interfaces", "lo", "interfaces the load clients gather ICE candidates on")
	fs.BoolVar(&cfg.NoRepair, "no-repair", false, "clients neither NACK lost packets nor resend those NACKed (browsers do both)")
	fs.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write the load tool's own CPU profile to this file")
	if err := parseNoArgs(fs, args, stderr); err != nil {
		return err
	}
	if cfg.VideoPublishers < 0 || cfg.AudioPublishers < 0 || cfg.Subscribers < 0 || cfg.Duration <= 0 {
		fmt.Fprintln(stderr, "counts must be ≥ 0 and --duration positive")
		return errUsage
	}
	for _, s := range strings.Split(ifaces, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Interfaces = append(cfg.Interfaces, s)
		}
	}
	// Bound the whole run: joins, settle, window and teardown.
	joins := float64(cfg.VideoPublishers+cfg.AudioPublishers+cfg.Subscribers) / max(cfg.JoinRate, 0.1)
	limit := time.Duration(joins*float64(time.Second)) + cfg.Settle + cfg.Duration + time.Minute
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	rep, err := loadtest.Run(ctx, cfg, stderr)
	if rep != nil {
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		} else {
			rep.Table(stdout)
		}
	}
	return err
}

// parseNoArgs parses a subcommand's flags, which take no positional
// argument: help is returned as is, anything else wrong as errUsage.
func parseNoArgs(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	return nil
}
