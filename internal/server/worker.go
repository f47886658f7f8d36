package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/jobs"
)

// Worker is `parley worker`: a process that serves no meeting and runs
// the background jobs any node may run — transcribing uploads kept in
// the S3 bucket, summaries, retention — from the nodes' PostgreSQL
// queue. The jobs tied to a node (its spooled audio, its uploads and
// recordings on local disk) stay that node's. With --nats it is woken
// when such a job is queued; without, it looks every second.
type Worker struct {
	*jobParts
	cfg    config.Config
	engine asr.Engine
}

// NewWorker builds a worker from its configuration (ValidateWorker).
func NewWorker(cfg config.Config, log *slog.Logger) (*Worker, error) {
	if err := cfg.ValidateWorker(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Worker{cfg: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if w.engine, err = newEngine(cfg.Speech); err != nil {
		st.Close()
		return nil, fmt.Errorf("speech engine: %w", err)
	}
	if w.jobParts, err = newJobParts(ctx, cfg, st, w.engine, log); err != nil {
		w.closeEngines()
		st.Close()
		return nil, err
	}
	w.Jobs.Nodes = []string{""} // no node's files are here
	if w.recordings != nil {
		// Recordings (in the bucket) expire with retention; finalizing
		// them is their node's job.
		w.retention.Recordings = &jobs.Recordings{Objects: w.recordings, Store: st, Logger: log.With("part", "record")}
	}
	if w.uploads == nil {
		log.Warn("no speech engine: this worker transcribes no upload")
	} else if w.deleter.Uploads == nil {
		log.Warn("no S3 bucket: uploads stay on the node that received them, which transcribes them")
	}
	return w, nil
}

// Run works until ctx ends, then lets the jobs in progress go back to
// the queue and closes what it opened.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.ringBell(w.cfg, "parley worker "+w.node); err != nil {
		w.closeEngines()
		w.st.Close()
		return fmt.Errorf("nats: %w", err)
	}
	w.log.Info("parley worker running", "node", w.node, "kinds", len(w.Jobs.Handlers))
	w.run(ctx)
	w.bell.Close()
	return errors.Join(w.closeEngines(), w.st.Close())
}

func (w *Worker) closeEngines() error {
	if w.engine == nil {
		return nil
	}
	return w.engine.Close()
}
