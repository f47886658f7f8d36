package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/parleyhq/parley/internal/httpapi"
	"github.com/parleyhq/parley/internal/jobs"
	"github.com/parleyhq/parley/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

// newRunner is the server's worker of the durable queue: one job at a
// time (jobs are CPU-bound speech work on a machine that forwards
// media), named by host, process and a random suffix in its leases.
func newRunner(st *store.DB, ret *jobs.Retention, log *slog.Logger) *jobs.Runner {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return &jobs.Runner{
		Queue:    st,
		Owner:    fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:])),
		Handlers: map[string]jobs.Handler{jobs.KindFinalize: jobs.FinalizeHandler(st, log), jobs.KindRetention: ret.Handler()},
		Log:      log,
	}
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

// scheduleRetention enqueues the day's retention job now and then every
// hour until ctx ends (the job's key is the date: one a day, however
// many processes schedule it), and wakes the runner.
func (s *Server) scheduleRetention(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := s.retention.Schedule(ctx, s.Store); err != nil && ctx.Err() == nil {
			s.log.Warn("retention job not scheduled", "err", err)
		} else {
			s.Jobs.Wake()
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
