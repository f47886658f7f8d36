// The durable queue's runner. A job is claimed with a lease that a
// heartbeat keeps alive; a worker that dies stops beating, its lease runs
// out and another worker (in this process after a restart, or another
// node sharing the store) takes the job over. A handler computes; it
// returns its result as a write the runner commits together with the
// job's completion, only while the worker still holds the lease, so a job
// that ran twice writes its result once. Failures are retried with
// exponential backoff up to the job's attempt limit; then the job is dead
// with its last error, for an operator (`parley jobs list|retry|cancel`).

package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/store"
)

// Queue is the store's side of the queue.
type Queue interface {
	ClaimJob(ctx context.Context, c store.Claim, now time.Time, lease time.Duration) (store.Job, bool, error)
	ExtendLease(ctx context.Context, id int64, owner string, until time.Time) error
	FinishJob(ctx context.Context, id int64, owner string, write func(*store.Tx) error) error
	FailJob(ctx context.Context, id int64, owner, msg string, retryAt time.Time, permanent bool) (bool, error)
	ReleaseJob(ctx context.Context, id int64, owner string) error
}

// Result is what a handler leaves: Write records it in the store,
// committed with the job's completion; After runs once that commit is
// made (removing the files the job consumed). Either may be nil.
type Result struct {
	Write func(*store.Tx) error
	After func()
}

// Handler does one kind of job. It returns its result or an error; an
// error wrapped with Permanent is not retried. ctx ends when the runner
// stops or the worker loses the job. A handler must be safe to run
// again after a crash: it computes, and only its Result's Write changes
// the store.
type Handler func(ctx context.Context, j store.Job) (Result, error)

type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Permanent marks an error that retrying cannot cure (a payload that
// names nothing, a file that is not audio): the job is dead at once.
func Permanent(err error) error { return permanent{err} }

// Runner claims and runs jobs.
type Runner struct {
	Queue    Queue
	Handlers map[string]Handler
	// Owner names this worker in leases (node and process); unique.
	Owner string
	// Nodes are the nodes whose jobs this runner takes (store.Claim): a
	// server's own and "" (the jobs any node may run), a worker's "";
	// nil: all.
	Nodes []string
	// Workers run jobs at once (default 1: jobs are CPU-bound speech
	// work on a machine that also forwards media).
	Workers int
	// Lease is how long a claim lasts without a heartbeat (default
	// 30 s); the heartbeat renews it every Lease/3.
	Lease time.Duration
	// Poll is how often an idle worker looks for due jobs (default 1 s);
	// Wake makes it look at once.
	Poll time.Duration
	// Backoff is the wait before attempt n+1 after n failures (default
	// 10 s·2^(n-1), at most 1 h, ±20 %).
	Backoff func(n int) time.Duration
	Now     func() time.Time
	Log     *slog.Logger

	wake chan struct{}
	once sync.Once
}

func (r *Runner) init() {
	r.once.Do(func() {
		if r.Workers <= 0 {
			r.Workers = 1
		}
		if r.Lease <= 0 {
			r.Lease = 30 * time.Second
		}
		if r.Poll <= 0 {
			r.Poll = time.Second
		}
		if r.Backoff == nil {
			r.Backoff = Backoff
		}
		if r.Now == nil {
			r.Now = time.Now
		}
		if r.Log == nil {
			r.Log = slog.New(slog.DiscardHandler)
		}
		r.wake = make(chan struct{}, 1)
	})
}

// Backoff is the default retry wait: 10 s, 20 s, 40 s … at most an
// hour, with ±20 % jitter so that jobs failing together do not retry
// together.
func Backoff(n int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Wake makes an idle worker look for jobs now (after an enqueue).
func (r *Runner) Wake() {
	r.init()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends, then waits for the jobs in progress to
// stop (their handlers see ctx end; their leases run out and another
// worker retries them).
func (r *Runner) Run(ctx context.Context) {
	r.init()
	kinds := make([]string, 0, len(r.Handlers))
	for k := range r.Handlers {
		kinds = append(kinds, k)
	}
	var wg sync.WaitGroup
	for range r.Workers {
		wg.Go(func() { r.work(ctx, kinds) })
	}
	wg.Wait()
}

func (r *Runner) work(ctx context.Context, kinds []string) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
		// Drain what is due before sleeping again.
		for ctx.Err() == nil {
			ran, err := r.RunOne(ctx, kinds)
			if err != nil {
				r.Log.Error("jobs: claim", "err", err)
				break
			}
			if !ran {
				break
			}
		}
		t.Reset(r.Poll)
	}
}

// RunOne claims one due job of kinds and runs it; ran is false when none
// was due.
func (r *Runner) RunOne(ctx context.Context, kinds []string) (ran bool, err error) {
	r.init()
	j, ok, err := r.Queue.ClaimJob(ctx, store.Claim{Owner: r.Owner, Kinds: kinds, Nodes: r.Nodes}, r.Now(), r.Lease)
	if err != nil || !ok {
		return false, err
	}
	r.run(ctx, j)
	return true, nil
}

func (r *Runner) run(ctx context.Context, j store.Job) {
	log := r.Log.With("job", j.ID, "kind", j.Kind, "attempt", j.Attempts)
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		tk := time.NewTicker(r.Lease / 3)
		defer tk.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-tk.C:
				if err := r.Queue.ExtendLease(jctx, j.ID, r.Owner, r.Now().Add(r.Lease)); err != nil {
					if errors.Is(err, store.ErrLeaseLost) {
						cancel(err)
						return
					}
					log.Warn("jobs: heartbeat", "err", err)
				}
			}
		}
	}()
	res, err := r.call(jctx, j)
	lost := errors.Is(context.Cause(jctx), store.ErrLeaseLost)
	cancel(nil)
	<-beat
	// The result and the failure are recorded even when ctx is ending
	// (a shutdown): a moment's grace rather than a rerun.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer wcancel()
	switch {
	case lost:
		log.Warn("jobs: lease lost; result dropped")
	case err == nil:
		if err := r.Queue.FinishJob(wctx, j.ID, r.Owner, res.Write); err != nil {
			if errors.Is(err, store.ErrLeaseLost) {
				log.Warn("jobs: lease lost before the result was written; result dropped")
				return
			}
			r.fail(wctx, log, j, fmt.Errorf("writing the result: %w", err))
			return
		}
		if res.After != nil {
			res.After()
		}
		log.Info("jobs: done")
	case ctx.Err() != nil:
		// Stopping: the job goes back to the queue without counting as
		// a failure, to run again at the next start (or on another
		// node) at once.
		if rerr := r.Queue.ReleaseJob(wctx, j.ID, r.Owner); rerr != nil {
			log.Warn("jobs: not released; it runs again when its lease runs out", "err", rerr)
		}
		log.Info("jobs: stopped with the runner; will run again", "err", err)
	default:
		r.fail(wctx, log, j, err)
	}
}

// call runs the handler, turning a panic into an error.
func (r *Runner) call(ctx context.Context, j store.Job) (res Result, err error) {
	h := r.Handlers[j.Kind]
	if h == nil {
		return Result{}, Permanent(fmt.Errorf("no handler for kind %q", j.Kind))
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx, j)
}

func (r *Runner) fail(ctx context.Context, log *slog.Logger, j store.Job, err error) {
	var p permanent
	perm := errors.As(err, &p)
	dead, ferr := r.Queue.FailJob(ctx, j.ID, r.Owner, err.Error(), r.Now().Add(r.Backoff(j.Attempts)), perm)
	switch {
	case ferr != nil:
		log.Error("jobs: failure not recorded; the lease will run out", "err", err, "record_err", ferr)
	case dead:
		log.Error("jobs: dead", "err", err)
	default:
		log.Warn("jobs: failed; will retry", "err", err)
	}
}
