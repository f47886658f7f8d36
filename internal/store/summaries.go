package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/internal/transcript"
)

// summariesSchema keeps each meeting's latest summary (a regenerated one
// replaces it).
const summariesSchema = `
CREATE TABLE summaries (
	meeting_id TEXT PRIMARY KEY REFERENCES meetings(id),
	summary    TEXT NOT NULL -- JSON transcript.Summary
);
`

// SaveSummary keeps a meeting's summary, replacing any earlier one.
func (t *Tx) SaveSummary(meetingID string, sum transcript.Summary) error {
	b, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	if _, err := meetingOf(t.ctx, t.tx, meetingID); err != nil {
		return err
	}
	_, err = t.tx.ExecContext(t.ctx, `INSERT INTO summaries(meeting_id, summary) VALUES(?, ?)
		ON CONFLICT(meeting_id) DO UPDATE SET summary = excluded.summary`, meetingID, string(b))
	return err
}

// Summary returns a meeting's summary, or nil when it has none.
func (s *DB) Summary(ctx context.Context, meetingID string) (*transcript.Summary, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	var raw string
	err := s.db.QueryRowContext(ctx, `SELECT summary FROM summaries WHERE meeting_id = ?`, meetingID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: summary: %w", err)
	}
	var sum transcript.Summary
	if err := json.Unmarshal([]byte(raw), &sum); err != nil {
		return nil, fmt.Errorf("store: summary of %s: %w", meetingID, err)
	}
	return &sum, nil
}
