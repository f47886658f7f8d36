package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/parleyhq/parley/internal/store"
)

// runJobs is the operators' view of the durable job queue: list the jobs
// (what failed and why), put a dead one back in the queue once its cause
// is fixed, or cancel one. It opens the store in --data-dir, or the
// PostgreSQL database of --postgres (PARLEY_POSTGRES_URL); a running
// server may share either.
func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: parley jobs [--data-dir DIR | --postgres URL] list [--state queued|running|done|dead|cancelled] [--limit N] [--json]")
		fmt.Fprintln(stderr, "       parley jobs [--data-dir DIR | --postgres URL] retry ID | cancel ID")
		fs.PrintDefaults()
	}
	dataDir := fs.String("data-dir", "data", "the server's data directory")
	pg := fs.String("postgres", os.Getenv("PARLEY_POSTGRES_URL"), "the server's PostgreSQL database (env PARLEY_POSTGRES_URL; instead of --data-dir)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	verb, rest := fs.Arg(0), fs.Args()[1:]
	var id int64
	switch verb {
	case "list":
	case "retry", "cancel":
		var err error
		if len(rest) != 1 {
			fs.Usage()
			return errUsage
		}
		if id, err = strconv.ParseInt(rest[0], 10, 64); err != nil || id <= 0 {
			fmt.Fprintf(stderr, "parley jobs %s: %q is not a job id\n", verb, rest[0])
			return errUsage
		}
	default:
		fmt.Fprintf(stderr, "parley jobs: unknown action %q (list, retry, cancel)\n", verb)
		return errUsage
	}
	// Every argument is checked before the store is opened: a mistyped
	// command must not create a database where there was none.
	lf := flag.NewFlagSet("jobs list", flag.ContinueOnError)
	lf.SetOutput(stderr)
	state := lf.String("state", "", "only jobs in this state")
	limit := lf.Int("limit", 50, "at most this many, newest first")
	asJSON := lf.Bool("json", false, "print JSON")
	if verb == "list" {
		if err := lf.Parse(rest); err != nil || lf.NArg() != 0 {
			return errUsage
		}
		switch *state {
		case "", store.JobQueued, store.JobRunning, store.JobDone, store.JobDead, store.JobCancelled:
		default:
			fmt.Fprintf(stderr, "parley jobs list: unknown state %q\n", *state)
			return errUsage
		}
	}
	var st *store.DB
	var err error
	if *pg != "" {
		st, err = store.OpenPostgres(ctx, *pg)
	} else {
		if _, err := os.Stat(*dataDir); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		st, err = store.OpenSQLite(ctx, *dataDir)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	switch verb {
	case "retry":
		if err := st.RetryJob(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "job %d queued again\n", id)
		return nil
	case "cancel":
		if err := st.CancelJob(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "job %d cancelled\n", id)
		return nil
	}
	js, err := st.Jobs(ctx, *state, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		if js == nil {
			js = []store.Job{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(js)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tKEY\tNODE\tSTATE\tATTEMPTS\tUPDATED\tLAST ERROR")
	for _, j := range js {
		node := j.Node
		if node == "" {
			node = "any"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", j.ID, j.Kind, j.Key, node, j.State, j.Attempts, j.MaxAttempts,
			j.Updated.UTC().Format(time.RFC3339), j.LastError)
	}
	return tw.Flush()
}
