package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/transcript"
)

// jobsSchema is the durable job queue: work that must happen even if
// the process that asked for it dies (finishing a meeting's transcript,
// transcribing an upload, deleting what is due).
const jobsSchema = `
CREATE TABLE jobs (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	kind         TEXT NOT NULL,
	key          TEXT NOT NULL UNIQUE, -- one job per key: enqueueing twice is a no-op
	payload      TEXT NOT NULL,        -- JSON, the handler's
	state        TEXT NOT NULL,        -- queued, running, done, dead, cancelled
	attempts     INTEGER NOT NULL DEFAULT 0,
	max_attempts INTEGER NOT NULL,
	run_after_ms INTEGER NOT NULL,
	lease_owner  TEXT NOT NULL DEFAULT '',
	lease_ms     INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	created_ms   INTEGER NOT NULL,
	updated_ms   INTEGER NOT NULL
);
CREATE INDEX jobs_ready ON jobs(state, run_after_ms);
`

// jobNodeSchema ties a job to the node whose disk holds its input
// (NewJob.Node); the same SQL on both databases.
const jobNodeSchema = `
ALTER TABLE jobs ADD COLUMN node TEXT NOT NULL DEFAULT '';
`

// Job states.
const (
	JobQueued    = "queued"    // waiting for its run_after time and a worker
	JobRunning   = "running"   // a worker holds its lease
	JobDone      = "done"      // its result is committed
	JobDead      = "dead"      // failed max_attempts times; last_error says why
	JobCancelled = "cancelled" // an operator stopped it
)

// DefaultMaxAttempts is how often a job runs before it is dead-lettered.
const DefaultMaxAttempts = 5

var (
	// ErrLeaseLost means a worker no longer holds a job: its lease ran
	// out and another worker took it, or an operator cancelled it. The
	// worker must stop and write nothing.
	ErrLeaseLost = errors.New("store: job lease lost")
)

// NewJob is a job to enqueue.
type NewJob struct {
	Kind string
	// Key makes the job unique (e.g. "finalize:MT_x"): a second
	// enqueue with the same key returns the first job.
	Key         string
	Payload     any // encoded as JSON
	MaxAttempts int // 0: DefaultMaxAttempts
	RunAfter    time.Time
	// Node ties the job to one node (its --node-id), whose disk holds
	// what the job reads (a meeting's spooled audio, an upload kept
	// locally); "" lets any node or worker run it.
	Node string
}

// Job is one row of the queue.
type Job struct {
	ID          int64
	Kind, Key   string
	Node        string // "" : any node
	Payload     json.RawMessage
	State       string
	Attempts    int
	MaxAttempts int
	RunAfter    time.Time
	LeaseOwner  string
	LeaseUntil  time.Time
	LastError   string
	Created     time.Time
	Updated     time.Time
}

// Tx is a store transaction: a state change and the jobs it causes (or
// a job's result and its completion) commit together or not at all.
type Tx struct {
	ctx context.Context
	tx  *dbTx
}

// InTx runs fn in one transaction, committed when fn returns nil.
func (s *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(&Tx{ctx: ctx, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Enqueue adds a job in the transaction, unless one with its key
// exists; it returns the job's id either way.
func (t *Tx) Enqueue(j NewJob) (int64, error) {
	return enqueue(t.ctx, t.tx, j, time.Now())
}

// AppendEvent is Store.AppendEvent in the transaction.
func (t *Tx) AppendEvent(meetingID string, e transcript.Event) error {
	return insertEvent(t.ctx, t.tx, meetingID, e)
}

// CreateMeeting is Store.CreateMeeting in the transaction.
func (t *Tx) CreateMeeting(m transcript.Meeting) error {
	return createMeeting(t.ctx, t.tx, m)
}

// GrantMeeting is Store.GrantMeeting in the transaction.
func (t *Tx) GrantMeeting(g Grant) error {
	return grantMeeting(t.ctx, t.tx, g)
}

// PutSpeaker is Store.PutSpeaker in the transaction.
func (t *Tx) PutSpeaker(meetingID string, sp transcript.Speaker) error {
	return putSpeaker(t.ctx, t.tx, meetingID, sp)
}

// ReplaceSegments is Store.ReplaceSegments in the transaction.
func (t *Tx) ReplaceSegments(meetingID, speakerID string, from, to float64, segs []transcript.Segment) error {
	return replaceSegments(t.ctx, t.tx, meetingID, speakerID, from, to, segs)
}

type querier interface {
	execer
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func enqueue(ctx context.Context, db querier, j NewJob, now time.Time) (int64, error) {
	if j.Kind == "" || j.Key == "" {
		return 0, fmt.Errorf("%w: a job needs a kind and a key", ErrInvalid)
	}
	p, err := json.Marshal(j.Payload)
	if err != nil {
		return 0, fmt.Errorf("store: job payload: %w", err)
	}
	if j.MaxAttempts <= 0 {
		j.MaxAttempts = DefaultMaxAttempts
	}
	if j.RunAfter.IsZero() {
		j.RunAfter = now
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO jobs(kind, key, node, payload, state, max_attempts, run_after_ms, created_ms, updated_ms)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING`,
		j.Kind, j.Key, j.Node, string(p), JobQueued, j.MaxAttempts, j.RunAfter.UnixMilli(), now.UnixMilli(), now.UnixMilli()); err != nil {
		return 0, fmt.Errorf("store: enqueue: %w", err)
	}
	var id int64
	if err := db.QueryRowContext(ctx, `SELECT id FROM jobs WHERE key = ?`, j.Key).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: enqueue: %w", err)
	}
	return id, nil
}

// Enqueue adds a job on its own (see Tx.Enqueue).
func (s *DB) Enqueue(ctx context.Context, j NewJob) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	return enqueue(ctx, s.db, j, time.Now())
}

const jobColumns = `id, kind, key, node, payload, state, attempts, max_attempts, run_after_ms, lease_owner, lease_ms, last_error, created_ms, updated_ms`

type scanner interface{ Scan(...any) error }

func scanJob(r scanner) (Job, error) {
	var j Job
	var payload string
	var runAfter, lease, created, updated int64
	err := r.Scan(&j.ID, &j.Kind, &j.Key, &j.Node, &payload, &j.State, &j.Attempts, &j.MaxAttempts, &runAfter, &j.LeaseOwner, &lease,
		&j.LastError, &created, &updated)
	if err != nil {
		return Job{}, err
	}
	j.Payload = json.RawMessage(payload)
	j.RunAfter, j.Created, j.Updated = time.UnixMilli(runAfter), time.UnixMilli(created), time.UnixMilli(updated)
	if lease > 0 {
		j.LeaseUntil = time.UnixMilli(lease)
	}
	return j, nil
}

// Claim is what a worker asks the queue for.
type Claim struct {
	Owner string   // names the worker in the lease; unique
	Kinds []string // the kinds it runs
	// Nodes are the nodes whose jobs it may take ("" for the jobs any
	// node may run); nil: every job.
	Nodes []string
}

// ClaimJob gives c.Owner the next job of one of c.Kinds that is due — a
// queued job whose time has come, or a running one whose lease ran out
// (its worker died) — with a lease until now+lease, and counts an
// attempt. ok is false when nothing is due. The claim is one UPDATE:
// two workers, in one process or several, never get the same job.
func (s *DB) ClaimJob(ctx context.Context, c Claim, now time.Time, lease time.Duration) (j Job, ok bool, err error) {
	if s.closed.Load() {
		return Job{}, false, ErrClosed
	}
	if c.Owner == "" || len(c.Kinds) == 0 || c.Nodes != nil && len(c.Nodes) == 0 {
		return Job{}, false, fmt.Errorf("%w: a claim needs an owner, kinds and (if given) nodes", ErrInvalid)
	}
	kj, _ := json.Marshal(c.Kinds)
	nodes := ""
	if c.Nodes != nil {
		nodes = ` AND node IN (SELECT value FROM ` + s.db.jsonEach() + `)`
	}
	ms := now.UnixMilli()
	args := []any{JobRunning, c.Owner, now.Add(lease).UnixMilli(), ms, string(kj)}
	if c.Nodes != nil {
		nj, _ := json.Marshal(c.Nodes)
		args = append(args, string(nj))
	}
	args = append(args, JobQueued, ms, JobRunning, ms)
	row := s.db.QueryRowContext(ctx, `UPDATE jobs SET state = ?, lease_owner = ?, lease_ms = ?, attempts = attempts + 1, updated_ms = ?
		WHERE id = (SELECT id FROM jobs WHERE kind IN (SELECT value FROM `+s.db.jsonEach()+`)`+nodes+`
			AND ((state = ? AND run_after_ms <= ?) OR (state = ? AND lease_ms < ?))
			ORDER BY run_after_ms, id LIMIT 1`+s.db.pick("", " FOR UPDATE SKIP LOCKED")+`)
		RETURNING `+jobColumns, args...)
	j, err = scanJob(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, false, nil
	}
	if err != nil {
		return Job{}, false, fmt.Errorf("store: claim job: %w", err)
	}
	return j, true, nil
}

// ExtendLease is a worker's heartbeat: it moves its lease on to until,
// or answers ErrLeaseLost.
func (s *DB) ExtendLease(ctx context.Context, id int64, owner string, until time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET lease_ms = ?, updated_ms = ? WHERE id = ? AND state = ? AND lease_owner = ?`,
		until.UnixMilli(), time.Now().UnixMilli(), id, JobRunning, owner)
	if err != nil {
		return fmt.Errorf("store: extend lease: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// FinishJob commits a job's result and marks it done in one
// transaction, only while owner holds it: a worker whose job was taken
// over writes nothing (ErrLeaseLost), so a result is written once even
// when a job runs twice. write may be nil.
func (s *DB) FinishJob(ctx context.Context, id int64, owner string, write func(*Tx) error) error {
	return s.InTx(ctx, func(t *Tx) error {
		res, err := t.tx.ExecContext(ctx, `UPDATE jobs SET state = ?, lease_ms = 0, last_error = '', updated_ms = ?
			WHERE id = ? AND state = ? AND lease_owner = ?`, JobDone, time.Now().UnixMilli(), id, JobRunning, owner)
		if err != nil {
			return fmt.Errorf("store: finish job: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrLeaseLost
		}
		if write != nil {
			return write(t)
		}
		return nil
	})
}

// FailJob records a failed attempt: the job runs again at retryAt, or,
// when it has had its attempts (or permanent is set), it is dead with
// msg as its last error.
func (s *DB) FailJob(ctx context.Context, id int64, owner, msg string, retryAt time.Time, permanent bool) (dead bool, err error) {
	err = s.InTx(ctx, func(t *Tx) error {
		var attempts, max int
		err := t.tx.QueryRowContext(ctx, `SELECT attempts, max_attempts FROM jobs WHERE id = ? AND state = ? AND lease_owner = ?`,
			id, JobRunning, owner).Scan(&attempts, &max)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrLeaseLost
		}
		if err != nil {
			return fmt.Errorf("store: fail job: %w", err)
		}
		state := JobQueued
		if permanent || attempts >= max {
			state, dead = JobDead, true
		}
		if len(msg) > 2000 {
			msg = msg[:2000]
		}
		_, err = t.tx.ExecContext(ctx, `UPDATE jobs SET state = ?, lease_owner = '', lease_ms = 0, last_error = ?, run_after_ms = ?, updated_ms = ?
			WHERE id = ?`, state, msg, retryAt.UnixMilli(), time.Now().UnixMilli(), id)
		return err
	})
	return dead, err
}

// ReleaseJob gives a running job back to the queue without counting the
// attempt: its worker is stopping (a shutdown), not failing, and the job
// should run again at once rather than when the lease runs out.
func (s *DB) ReleaseJob(ctx context.Context, id int64, owner string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET state = ?, attempts = MAX(attempts - 1, 0), lease_owner = '', lease_ms = 0, updated_ms = ?
		WHERE id = ? AND state = ? AND lease_owner = ?`, JobQueued, time.Now().UnixMilli(), id, JobRunning, owner)
	if err != nil {
		return fmt.Errorf("store: release job: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// Job returns one job or ErrNotFound.
func (s *DB) Job(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, ErrNotFound
	}
	return j, err
}

// JobByKey returns the job enqueued under key, or ErrNotFound.
func (s *DB) JobByKey(ctx context.Context, key string) (Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, ErrNotFound
	}
	return j, err
}

// Jobs lists jobs, newest first, in one state (all when state is "").
func (s *DB) Jobs(ctx context.Context, state string, limit int) ([]Job, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE ? = '' OR state = ? ORDER BY id DESC LIMIT ?`,
		state, state, limit)
	if err != nil {
		return nil, fmt.Errorf("store: jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// RetryJob puts a dead or cancelled job back in the queue with its
// attempts counted afresh (an operator fixed the cause).
func (s *DB) RetryJob(ctx context.Context, id int64) error {
	now := time.Now().UnixMilli()
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET state = ?, attempts = 0, lease_owner = '', lease_ms = 0, run_after_ms = ?, updated_ms = ?
		WHERE id = ? AND state IN (?, ?)`, JobQueued, now, now, id, JobDead, JobCancelled)
	if err != nil {
		return fmt.Errorf("store: retry job: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return s.noJob(ctx, id, "dead or cancelled")
	}
	return nil
}

// CancelJob stops a queued or running job; a running job's worker loses
// its lease (its result is not written).
func (s *DB) CancelJob(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET state = ?, lease_owner = '', lease_ms = 0, updated_ms = ?
		WHERE id = ? AND state IN (?, ?)`, JobCancelled, time.Now().UnixMilli(), id, JobQueued, JobRunning)
	if err != nil {
		return fmt.Errorf("store: cancel job: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return s.noJob(ctx, id, "queued or running")
	}
	return nil
}

// noJob explains why a job was not changed: it does not exist, or it is
// not in one of the states the change needs.
func (s *DB) noJob(ctx context.Context, id int64, states string) error {
	j, err := s.Job(ctx, id)
	if err != nil {
		return fmt.Errorf("job %d: %w", id, err)
	}
	return fmt.Errorf("%w: job %d is %s, not %s", ErrInvalid, id, j.State, states)
}

// JobCount is how many jobs of a kind are in a state.
type JobCount struct {
	Kind, State string
	N           int
}

// JobCounts counts the jobs by kind and state (for /metrics).
func (s *DB) JobCounts(ctx context.Context) ([]JobCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state ORDER BY kind, state`)
	if err != nil {
		return nil, fmt.Errorf("store: job counts: %w", err)
	}
	defer rows.Close()
	var out []JobCount
	for rows.Next() {
		var c JobCount
		if err := rows.Scan(&c.Kind, &c.State, &c.N); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PayloadBytes sums the "size" field of the payloads of jobs of kind
// whose payload's "subject" is subject and whose "meeting_id" names a
// meeting that still exists: the bytes of uploads a user keeps.
func (s *DB) PayloadBytes(ctx context.Context, kind, subject string) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	var n int64
	err := s.db.QueryRowContext(ctx, s.db.pick(`SELECT coalesce(sum(json_extract(j.payload, '$.size')), 0) FROM jobs j
		WHERE j.kind = ? AND json_extract(j.payload, '$.subject') = ?
		AND EXISTS (SELECT 1 FROM meetings m WHERE m.id = json_extract(j.payload, '$.meeting_id'))`,
		`SELECT coalesce(sum((j.payload::json->>'size')::bigint), 0) FROM jobs j
		WHERE j.kind = ? AND j.payload::json->>'subject' = ?
		AND EXISTS (SELECT 1 FROM meetings m WHERE m.id = j.payload::json->>'meeting_id')`), kind, subject).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: payload bytes: %w", err)
	}
	return n, nil
}
