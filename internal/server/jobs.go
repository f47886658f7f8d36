package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/parleyhq/parley/internal/jobs"
	"github.com/parleyhq/parley/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

// newRunner is the server's worker of the durable queue: one job at a
// time (jobs are CPU-bound speech work on a machine that forwards
// media), named by host, process and a random suffix in its leases.
func newRunner(st *store.SQLite, log *slog.Logger) *jobs.Runner {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return &jobs.Runner{
		Queue:    st,
		Owner:    fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:])),
		Handlers: map[string]jobs.Handler{jobs.KindFinalize: jobs.FinalizeHandler(st, log)},
		Log:      log,
	}
}

// jobsCollector puts the queue on /metrics: parley_jobs{kind,state}, read
// from the store at each scrape.
type jobsCollector struct{ st *store.SQLite }

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
