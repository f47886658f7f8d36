// Command parley is the whole of Parley in one binary: the meeting server,
// its load tool, and the offline speech tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// A command is one sub-command of the binary. run gets the arguments after
// the command name; it returns errUsage for bad arguments.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the sub-commands in the order `parley help` shows them.
var commands = []command{
	{"serve", "run the meeting server", runServe},
	{"transcribe", "transcribe audio files (one per speaker with --track)", runTranscribe},
	{"diarize", "write who spoke when in an audio file (RTTM or JSON)", runDiarize},
	{"jobs", "list, retry or cancel the server's background jobs", runJobs},
	{"worker", "run background jobs (uploads, summaries) for the nodes sharing a PostgreSQL database", runWorker},
	{"loadtest", "load a server with pion clients and report what arrives", runLoadtest},
	{"netbench", "run a meeting over emulated networks (loss, delay, narrow links; needs root) and report what arrives", runNetbench},
	{"bench-captions", "measure live caption latency with many people speaking at once", runBenchCaptions},
	{"bench-diarize", "measure speaker diarization (DER, speed) on the dev set and generated meetings", runBenchDiarize},
	{"bench-vad", "measure the voice activity detector on the dev set", runBenchVAD},
	{"version", "print the version", runVersion},
}

// errUsage reports bad command-line arguments; the flag set has already
// printed its message, so main only sets the exit status.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "parley %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "parley: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: parley <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-15s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'parley <command> -h' for the flags of one command.")
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintf(stdout, "parley %s\n", version)
	return nil
}
