package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/cluster"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/httpapi"
	"github.com/parleyhq/parley/internal/jobs"
	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/summary"
	"github.com/prometheus/client_golang/prometheus"
)

// jobParts are the background jobs' machinery, a server's and a
// worker's alike.
type jobParts struct {
	st   *store.DB
	log  *slog.Logger
	node string // this node's id: the jobs tied to it run here
	// Jobs is the durable queue's worker: one job at a time (jobs are
	// CPU-bound speech work on a machine that forwards media), named by
	// host, process and a random suffix in its leases.
	Jobs *jobs.Runner
	// deleter forgets meetings (on request, and for retention, the daily
	// job).
	deleter   *jobs.Deleter
	retention *jobs.Retention
	uploads   *jobs.Uploads   // nil without a speech engine
	summaries *jobs.Summaries // nil without --llm-url
	// recordings keeps recordings (nil: --recordings off); shared the
	// bucket, if any, with the uploads (under "uploads/").
	recordings objects.Store
	// bell, with --nats, hands one runner of any node or worker a token
	// when a job is queued (set before the runner starts).
	bell *cluster.Bell
}

// newJobParts builds the runner and the handlers of the jobs that need
// no meeting running here: finalizing shared microphones (spooled on
// this node), retention, uploads (with a speech engine), summaries (with
// --llm-url). Uploads are kept in the S3 bucket when there is one (any
// node or worker transcribes them), else in data-dir/uploads (this node
// does).
func newJobParts(ctx context.Context, cfg config.Config, st *store.DB, engine asr.Engine, log *slog.Logger) (*jobParts, error) {
	log = log.With("part", "jobs")
	p := &jobParts{st: st, log: log, node: nodeID(cfg)}
	bucket, err := sharedObjects(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	p.recordings = recordingsStore(cfg, bucket)
	uploadDir := filepath.Join(cfg.DataDir, "uploads")
	var uploadObjects objects.Store
	if bucket != nil {
		uploadObjects = objects.Under(bucket, "uploads")
	}
	p.deleter = &jobs.Deleter{Store: st, UploadDir: uploadDir, Uploads: uploadObjects, Recordings: p.recordings, Locks: &jobs.MeetingLocks{}, Logger: log}
	p.retention = &jobs.Retention{Deleter: p.deleter, Default: cfg.RetainTranscripts, RecordingsKept: cfg.RetainRecordings}
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	p.Jobs = &jobs.Runner{
		Queue:    st,
		Owner:    fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:])),
		Nodes:    []string{"", p.node},
		Handlers: map[string]jobs.Handler{jobs.KindFinalize: jobs.FinalizeHandler(st, log), jobs.KindRetention: p.retention.Handler()},
		Log:      log,
	}
	if cfg.Jobs == "local" {
		p.Jobs.Nodes = []string{p.node}
	}
	if engine != nil {
		p.uploads = &jobs.Uploads{Store: st, Dir: uploadDir, Objects: uploadObjects, Node: p.node, Engine: engine, Wake: p.wake, Logger: log}
		p.Jobs.Handlers[jobs.KindUpload] = p.uploads.Handler()
	}
	if cfg.LLMURL != "" {
		p.summaries = &jobs.Summaries{Store: st, Wake: p.wake, Logger: log.With("part", "summary"),
			Client: &summary.Client{URL: cfg.LLMURL, Model: cfg.LLMModel, Key: cfg.LLMKey}}
		p.Jobs.Handlers[jobs.KindSummary] = p.summaries.Handler()
		if p.uploads != nil {
			p.uploads.Summaries = p.summaries
		}
	}
	if n := jobs.CleanPartial(uploadDir); n > 0 {
		log.Info("removed partial uploads (left by a crash)", "files", n)
	}
	return p, nil
}

// wake makes the runners look for jobs now: this process's, and with
// --nats one runner of any node or worker (a token in the work queue).
func (p *jobParts) wake() {
	p.Jobs.Wake()
	p.bell.Ring()
}

// ringBell connects the job bell (with --nats), before the runner runs.
func (p *jobParts) ringBell(cfg config.Config, name string) error {
	if len(cfg.NATS) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	heard := p.Jobs.Wake
	if cfg.Jobs == "local" {
		heard = nil // the tokens are for runners that take any node's jobs
	}
	b, err := cluster.DialBell(ctx, cfg.NATS, natsAuth(cfg), name, heard)
	if err != nil {
		return err
	}
	p.bell = b
	return nil
}

// uploadOptions are POST /api/transcriptions' (no uploader without a
// speech engine: the endpoint then says so).
func (s *Server) uploadOptions(dir string, max int64) httpapi.UploadOptions {
	o := httpapi.UploadOptions{Dir: dir, Max: max, Quota: s.cfg.UploadQuota, Language: s.cfg.Speech.Language,
		AnyLanguage: s.cfg.Speech.Engine == "openai", Jobs: s.Store}
	if s.uploads != nil {
		o.Uploader, o.Progress = s.uploads, s.uploads.Progress
	}
	return o
}

// run runs the jobs until ctx ends, and schedules the day's retention
// job meanwhile.
func (p *jobParts) run(ctx context.Context) {
	sched := make(chan struct{})
	go func() { p.scheduleRetention(ctx); close(sched) }()
	p.Jobs.Run(ctx)
	<-sched
}

// scheduleRetention enqueues the day's retention job now and then every
// hour until ctx ends (the job's key is the date: one a day, however
// many processes schedule it), and wakes the runner.
func (p *jobParts) scheduleRetention(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := p.retention.Schedule(ctx, p.st); err != nil && ctx.Err() == nil {
			p.log.Warn("retention job not scheduled", "err", err)
		} else {
			p.Jobs.Wake()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// jobsCollector puts the queue on /metrics: parley_jobs{kind,state}, read
// from the store at each scrape.
type jobsCollector struct{ st *store.DB }

var jobsDesc = prometheus.NewDesc("parley_jobs", "Background jobs in the durable queue, by kind and state.", []string{"kind", "state"}, nil)

func (jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (c jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.st.JobCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		return
	}
	for _, n := range counts {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n.N), n.Kind, n.State)
	}
}
