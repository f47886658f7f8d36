package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/summary"
)

// KindSummary writes a meeting's summary with the organisation's
// language model once the meeting's transcript is final.
const KindSummary = "summarize"

// summaryAttempts: the job waits (as failed attempts with backoff) for
// the meeting's other jobs — a final pass over an hour's recording takes
// minutes — and for a model server that is down.
const summaryAttempts = 12

// Summaries queues and runs summary jobs.
type Summaries struct {
	Store  *store.DB
	Client *summary.Client
	Wake   func()
	Logger *slog.Logger
}

type summaryPayload struct {
	MeetingID string `json:"meeting_id"`
}

// SummaryKey is the key of a meeting's first summary job; a regenerated
// one gets its own.
func SummaryKey(meetingID string) string { return "summary:" + meetingID }

// Enqueue queues a meeting's summary: the first one (again is a no-op),
// or with regenerate a new one.
func (s *Summaries) Enqueue(ctx context.Context, meetingID string, regenerate bool) error {
	_, err := s.Store.Enqueue(ctx, s.job(meetingID, regenerate))
	if err == nil && s.Wake != nil {
		s.Wake()
	}
	return err
}

// job is a meeting's summary job, to queue alone or in a transaction.
func (s *Summaries) job(meetingID string, regenerate bool) store.NewJob {
	key := SummaryKey(meetingID)
	if regenerate {
		key += ":" + time.Now().UTC().Format("20060102T150405.000000000")
	}
	return store.NewJob{Kind: KindSummary, Key: key, Payload: summaryPayload{MeetingID: meetingID},
		MaxAttempts: summaryAttempts, RunAfter: time.Now().Add(2 * time.Second)}
}

// Pending reports whether a summary job of the meeting is queued or
// running.
func (s *Summaries) Pending(ctx context.Context, meetingID string) (bool, error) {
	keys, err := s.Store.PendingJobKeys(ctx)
	for _, k := range keys {
		if k == SummaryKey(meetingID) || strings.HasPrefix(k, SummaryKey(meetingID)+":") {
			return true, err
		}
	}
	return false, err
}

// Handler runs summary jobs: it waits while other jobs of the meeting
// (diarization, the final pass) are pending, then asks the model and
// stores the summary in the job's transaction. A meeting deleted since,
// or with nothing said, ends the job.
func (s *Summaries) Handler() Handler {
	return func(ctx context.Context, j store.Job) (Result, error) {
		var p summaryPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.MeetingID == "" {
			return Result{}, Permanent(fmt.Errorf("summary payload: %v", err))
		}
		keys, err := s.Store.PendingJobKeys(ctx)
		if err != nil {
			return Result{}, err
		}
		for _, k := range keys {
			parts := strings.Split(k, ":")
			if len(parts) >= 2 && parts[1] == p.MeetingID && parts[0] != "summary" {
				return Result{}, fmt.Errorf("waiting for the meeting's job %s", k)
			}
		}
		t, err := s.Store.Transcript(ctx, p.MeetingID)
		if errors.Is(err, store.ErrNotFound) {
			return Result{}, nil
		}
		if err != nil {
			return Result{}, err
		}
		sum, err := s.Client.Summarize(ctx, t)
		var perm summary.Permanent
		if errors.As(err, &perm) {
			return Result{}, Permanent(err)
		}
		if err != nil {
			return Result{}, err
		}
		if sum == nil {
			return Result{}, nil
		}
		if sum.Dropped > 0 && s.Logger != nil {
			s.Logger.Warn("summary citations dropped: they named no segment of the meeting", "meeting", p.MeetingID, "dropped", sum.Dropped)
		}
		return Result{Write: func(tx *store.Tx) error {
			err := tx.SaveSummary(p.MeetingID, *sum)
			if errors.Is(err, store.ErrNotFound) {
				return nil // deleted meanwhile
			}
			return err
		}}, nil
	}
}
