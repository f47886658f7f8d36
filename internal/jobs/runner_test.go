package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/transcript"
)

const meetingID = "MT_jobs"

// openStore opens the store in dir with one meeting whose events stand
// for a job's result.
func openStore(t testing.TB, dir string) *store.DB {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateMeeting(context.Background(), transcript.Meeting{ID: meetingID}); err != nil {
		t.Fatal(err)
	}
	return s
}

// results counts the result rows each job wrote (events whose detail
// names the job).
func results(t *testing.T, s *store.DB) map[string]int {
	t.Helper()
	tr, err := s.Transcript(context.Background(), meetingID)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range tr.Events {
		n[e.Detail]++
	}
	return n
}

// writeResult is a job's result: one event naming it.
func writeResult(j store.Job) func(*store.Tx) error {
	return func(tx *store.Tx) error {
		return tx.AppendEvent(meetingID, transcript.Event{Kind: "job_result", Detail: j.Key})
	}
}

// clock is a time the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestRetriesWithBackoffThenSucceeds: a handler that fails twice runs a
// third time only once each backoff has passed, and writes its result
// once.
func TestRetriesWithBackoffThenSucceeds(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	calls := 0
	r := &Runner{Queue: s, Owner: "w1", Now: clk.Now, Backoff: func(n int) time.Duration { return time.Duration(n) * time.Minute },
		Handlers: map[string]Handler{"flaky": func(_ context.Context, j store.Job) (Result, error) {
			calls++
			if calls < 3 {
				return Result{}, fmt.Errorf("attempt %d: engine unreachable", calls)
			}
			return Result{Write: writeResult(j)}, nil
		}}}
	if _, err := s.Enqueue(ctx, store.NewJob{Kind: "flaky", Key: "flaky-1", RunAfter: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	step := func(wantRan bool) {
		t.Helper()
		ran, err := r.RunOne(ctx, []string{"flaky"})
		if err != nil || ran != wantRan {
			t.Fatalf("RunOne at call %d: ran %v, %v; want ran %v", calls, ran, err, wantRan)
		}
	}
	step(true)  // fails; due again in 1 min
	step(false) // not yet
	clk.Add(61 * time.Second)
	step(true) // fails; due again in 2 min
	clk.Add(61 * time.Second)
	step(false)
	clk.Add(61 * time.Second)
	step(true) // succeeds
	clk.Add(time.Hour)
	step(false)
	j, _ := s.Job(ctx, 1)
	if j.State != store.JobDone || j.Attempts != 3 || j.LastError != "" {
		t.Fatalf("job: %+v", j)
	}
	if n := results(t, s)["flaky-1"]; n != 1 {
		t.Fatalf("%d results written, want 1", n)
	}
}

// TestDeadLetter: a handler that always fails ends dead with its last
// error after its attempts; a permanent error kills the job at once; an
// operator's retry queues it again, and a cancel stops it.
func TestDeadLetter(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	r := &Runner{Queue: s, Owner: "w1", Now: clk.Now, Backoff: func(int) time.Duration { return time.Second },
		Handlers: map[string]Handler{
			"broken": func(_ context.Context, j store.Job) (Result, error) {
				return Result{}, errors.New("the recording is gone")
			},
			"garbage": func(_ context.Context, j store.Job) (Result, error) {
				return Result{}, Permanent(errors.New("not audio"))
			},
			"panics": func(_ context.Context, j store.Job) (Result, error) {
				panic("index out of range")
			},
		}}
	s.Enqueue(ctx, store.NewJob{Kind: "broken", Key: "b", MaxAttempts: 3, RunAfter: clk.Now()})
	s.Enqueue(ctx, store.NewJob{Kind: "garbage", Key: "g", RunAfter: clk.Now()})
	s.Enqueue(ctx, store.NewJob{Kind: "panics", Key: "p", MaxAttempts: 1, RunAfter: clk.Now()})
	s.Enqueue(ctx, store.NewJob{Kind: "nobody-handles-this", Key: "n", RunAfter: clk.Now()})
	for range 10 {
		r.RunOne(ctx, []string{"broken", "garbage", "panics"})
		clk.Add(2 * time.Second)
	}
	want := map[int64]struct {
		state    string
		attempts int
		err      string
	}{1: {store.JobDead, 3, "the recording is gone"}, 2: {store.JobDead, 1, "not audio"}, 3: {store.JobDead, 1, "handler panicked: index out of range"},
		4: {store.JobQueued, 0, ""}}
	for id, w := range want {
		j, err := s.Job(ctx, id)
		if err != nil || j.State != w.state || j.Attempts != w.attempts || j.LastError != w.err {
			t.Errorf("job %d: %+v %v; want %+v", id, j, err, w)
		}
	}
	if err := s.RetryJob(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if j, _ := s.Job(ctx, 1); j.State != store.JobQueued || j.Attempts != 0 {
		t.Fatalf("retried: %+v", j)
	}
	if err := s.CancelJob(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if ran, _ := r.RunOne(ctx, []string{"broken"}); ran {
		t.Fatal("a cancelled job ran")
	}
	if err := s.RetryJob(ctx, 4); err == nil {
		t.Fatal("a queued job was 'retried'")
	}
	counts, err := s.JobCounts(ctx)
	if err != nil || len(counts) != 4 {
		t.Fatalf("counts %+v %v", counts, err)
	}
}

// TestLostLeaseWritesNothing: a worker whose lease ran out and was taken
// over, or whose job was cancelled, cannot commit its result; the new
// holder's is written once.
func TestLostLeaseWritesNothing(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	now := time.Now()
	s.Enqueue(ctx, store.NewJob{Kind: "k", Key: "slow", RunAfter: now})
	a, ok, err := s.ClaimJob(ctx, store.Claim{Owner: "worker-a", Kinds: []string{"k"}}, now, time.Second)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, ok, _ := s.ClaimJob(ctx, store.Claim{Owner: "worker-b", Kinds: []string{"k"}}, now.Add(500*time.Millisecond), time.Second); ok {
		t.Fatal("a leased job was claimed again before its lease ran out")
	}
	b, ok, err := s.ClaimJob(ctx, store.Claim{Owner: "worker-b", Kinds: []string{"k"}}, now.Add(2*time.Second), time.Minute)
	if err != nil || !ok || b.ID != a.ID || b.Attempts != 2 {
		t.Fatalf("take-over: %+v %v %v", b, ok, err)
	}
	if err := s.ExtendLease(ctx, a.ID, "worker-a", now.Add(time.Hour)); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("the old holder's heartbeat: %v", err)
	}
	if err := s.FinishJob(ctx, a.ID, "worker-a", writeResult(a)); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("the old holder finished: %v", err)
	}
	if err := s.FinishJob(ctx, b.ID, "worker-b", writeResult(b)); err != nil {
		t.Fatal(err)
	}
	if n := results(t, s)["slow"]; n != 1 {
		t.Fatalf("%d results", n)
	}

	s.Enqueue(ctx, store.NewJob{Kind: "k", Key: "cancelled", RunAfter: now})
	c, _, _ := s.ClaimJob(ctx, store.Claim{Owner: "worker-a", Kinds: []string{"k"}}, now, time.Minute)
	if err := s.CancelJob(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishJob(ctx, c.ID, "worker-a", writeResult(c)); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("a cancelled job finished: %v", err)
	}
	if n := results(t, s)["cancelled"]; n != 0 {
		t.Fatalf("a cancelled job wrote %d results", n)
	}
}

// TestEnqueueCommitsWithTheStateChange: a job enqueued in a transaction
// that fails does not exist; one key gives one job.
func TestEnqueueCommitsWithTheStateChange(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.AppendEvent(meetingID, transcript.Event{Kind: transcript.TranscriptionOff}); err != nil {
			return err
		}
		if _, err := tx.Enqueue(store.NewJob{Kind: "finalize", Key: "finalize:" + meetingID}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if js, _ := s.Jobs(ctx, "", 10); len(js) != 0 {
		t.Fatalf("a rolled-back enqueue left %d jobs", len(js))
	}
	if tr, _ := s.Transcript(ctx, meetingID); len(tr.Events) != 0 {
		t.Fatal("a rolled-back state change stayed")
	}
	id1, err1 := s.Enqueue(ctx, store.NewJob{Kind: "finalize", Key: "finalize:" + meetingID, Payload: map[string]string{"meeting_id": meetingID}})
	id2, err2 := s.Enqueue(ctx, store.NewJob{Kind: "finalize", Key: "finalize:" + meetingID})
	if err1 != nil || err2 != nil || id1 != id2 {
		t.Fatalf("enqueue twice: %d %v, %d %v", id1, err1, id2, err2)
	}
	if j, _ := s.Job(ctx, id1); string(j.Payload) != `{"meeting_id":"MT_jobs"}` {
		t.Fatalf("payload %s", j.Payload)
	}
}

// TestTwoWorkersNeverShareAJob: two runners on two handles of one
// database (as two processes would be), two workers each; every job
// runs with nobody else running it at the same time, and writes once.
func TestTwoWorkersNeverShareAJob(t *testing.T) {
	dir := t.TempDir()
	s1 := openStore(t, dir)
	s2, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 40
	for i := range n {
		if _, err := s1.Enqueue(ctx, store.NewJob{Kind: "work", Key: fmt.Sprintf("job-%02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	running := map[int64]string{}
	ran := map[int64]int{}
	overlap := ""
	handler := func(owner string) Handler {
		return func(ctx context.Context, j store.Job) (Result, error) {
			mu.Lock()
			if o, ok := running[j.ID]; ok {
				overlap = fmt.Sprintf("job %d run by %s and %s at once", j.ID, o, owner)
			}
			running[j.ID] = owner
			ran[j.ID]++
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			delete(running, j.ID)
			mu.Unlock()
			return Result{Write: writeResult(j)}, nil
		}
	}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, q := range []*store.DB{s1, s2} {
		owner := fmt.Sprintf("node-%d", i)
		r := &Runner{Queue: q, Owner: owner, Workers: 2, Poll: 10 * time.Millisecond, Handlers: map[string]Handler{"work": handler(owner)}}
		wg.Go(func() { r.Run(rctx) })
	}
	for {
		js, err := s1.Jobs(ctx, store.JobDone, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(js) == n {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d jobs done", len(js), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	wg.Wait()
	if overlap != "" {
		t.Fatal(overlap)
	}
	res := results(t, s1)
	for i := range n {
		if ran[int64(i+1)] != 1 || res[fmt.Sprintf("job-%02d", i)] != 1 {
			t.Errorf("job %d ran %d times, wrote %d results", i+1, ran[int64(i+1)], res[fmt.Sprintf("job-%02d", i)])
		}
	}
}

// TestKilledWorkerIsRetriedAfterItsLease: a process running a job is
// killed (SIGKILL) mid-run; once its lease has run out another worker
// takes the job and writes the result, once.
func TestKilledWorkerIsRetriedAfterItsLease(t *testing.T) {
	if dir := os.Getenv("PARLEY_JOBS_VICTIM"); dir != "" {
		victim(dir)
		return
	}
	dir := t.TempDir()
	s := openStore(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := s.Enqueue(ctx, store.NewJob{Kind: "finalize", Key: "finalize-killed"}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKilledWorkerIsRetriedAfterItsLease$")
	cmd.Env = append(os.Environ(), "PARLEY_JOBS_VICTIM="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := filepath.Join(dir, "started")
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if ctx.Err() != nil {
			cmd.Process.Kill()
			t.Fatal("the victim never started its job")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill() // SIGKILL: no clean-up, the lease stays
	cmd.Wait()
	killed := time.Now()

	r := &Runner{Queue: s, Owner: "survivor", Lease: 2 * time.Second,
		Handlers: map[string]Handler{"finalize": func(_ context.Context, j store.Job) (Result, error) {
			return Result{Write: writeResult(j)}, nil
		}}}
	for {
		ran, err := r.RunOne(ctx, []string{"finalize"})
		if err != nil {
			t.Fatal(err)
		}
		if ran {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the job was never taken over")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if waited := time.Since(killed); waited < time.Second {
		t.Fatalf("taken over %v after the kill, before the victim's 2 s lease could have run out", waited)
	}
	j, _ := s.Job(ctx, 1)
	if j.State != store.JobDone || j.Attempts != 2 || j.LeaseOwner != "survivor" {
		t.Fatalf("job: %+v", j)
	}
	if n := results(t, s)["finalize-killed"]; n != 1 {
		t.Fatalf("%d results", n)
	}
}

// victim runs in the child process: it claims the job with a 2 s lease,
// says so, and hangs in its handler until it is killed.
func victim(dir string) {
	s, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		os.Exit(3)
	}
	r := &Runner{Queue: s, Owner: "victim", Lease: 2 * time.Second,
		Handlers: map[string]Handler{"finalize": func(ctx context.Context, j store.Job) (Result, error) {
			os.WriteFile(filepath.Join(dir, "started"), nil, 0o600)
			select {}
		}}}
	r.RunOne(context.Background(), []string{"finalize"})
	os.Exit(4)
}

// TestStoppingReleasesTheJob: a runner stopped mid-job gives the job
// back at once, without counting the attempt, and runs no After.
func TestStoppingReleasesTheJob(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	s.Enqueue(ctx, store.NewJob{Kind: "long", Key: "long-1"})
	started := make(chan struct{})
	after := false
	r := &Runner{Queue: s, Owner: "w1", Poll: 10 * time.Millisecond,
		Handlers: map[string]Handler{"long": func(ctx context.Context, j store.Job) (Result, error) {
			close(started)
			<-ctx.Done()
			return Result{Write: writeResult(j), After: func() { after = true }}, ctx.Err()
		}}}
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	<-started
	cancel()
	<-done
	j, _ := s.Job(context.Background(), 1)
	if j.State != store.JobQueued || j.Attempts != 0 || j.LeaseOwner != "" || after {
		t.Fatalf("after stopping: %+v, after ran %v", j, after)
	}
	if n := results(t, s)["long-1"]; n != 0 {
		t.Fatalf("a stopped job wrote %d results", n)
	}
}

// TestCleanSpoolKeepsWhatJobsNeed: at start, spool files that no queued,
// running or dead finalize job names are removed, with empty meeting
// directories; the others stay.
func TestCleanSpoolKeepsWhatJobsNeed(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	ctx := context.Background()
	spool := filepath.Join(dir, "spool")
	keep := filepath.Join(spool, "MT_a", "TR_1-1.pcm")
	orphan := filepath.Join(spool, "MT_b", "TR_2-2.pcm")
	done := filepath.Join(spool, "MT_c", "TR_3-3.pcm")
	for _, f := range []string{keep, orphan, done} {
		os.MkdirAll(filepath.Dir(f), 0o700)
		os.WriteFile(f, make([]byte, 320), 0o600)
	}
	s.Enqueue(ctx, store.NewJob{Kind: KindFinalize, Key: "finalize:MT_a", Payload: Finalize{MeetingID: "MT_a", Mics: []SpooledMic{{Path: keep}}}})
	s.Enqueue(ctx, store.NewJob{Kind: KindFinalize, Key: "finalize:MT_c", Payload: Finalize{MeetingID: "MT_c", Mics: []SpooledMic{{Path: done}}}})
	// Claim both; finish MT_c's job (its file is no longer needed) and
	// give MT_a's back to the queue.
	claim := func() store.Job {
		j, ok, err := s.ClaimJob(ctx, store.Claim{Owner: "w", Kinds: []string{KindFinalize}}, time.Now().Add(time.Second), time.Minute)
		if err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		return j
	}
	for _, j := range []store.Job{claim(), claim()} {
		if j.Key == "finalize:MT_c" {
			s.FinishJob(ctx, j.ID, "w", nil)
		} else {
			s.ReleaseJob(ctx, j.ID, "w")
		}
	}
	n, err := CleanSpool(ctx, spool, s.Jobs)
	if err != nil || n != 2 {
		t.Fatalf("removed %d, %v; want 2", n, err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("a queued job's spool was removed: %v", err)
	}
	for _, gone := range []string{orphan, done, filepath.Dir(orphan)} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("%s is still there", gone)
		}
	}
}
