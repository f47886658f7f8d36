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

// revisionsSchema keeps earlier versions of a meeting's segments: the
// live ones, when a final pass over the recording replaced them.
const revisionsSchema = `
CREATE TABLE revisions (
	meeting_id TEXT NOT NULL REFERENCES meetings(id),
	n          INTEGER NOT NULL,
	label      TEXT NOT NULL,
	created    TEXT NOT NULL,
	segments   TEXT NOT NULL, -- JSON, as in the transcript
	PRIMARY KEY (meeting_id, n)
);
`

// Revision describes one kept version of a meeting's segments.
type Revision struct {
	N        int       `json:"n"`
	Label    string    `json:"label"`
	Created  time.Time `json:"created"`
	Segments int       `json:"segments"`
}

// SaveRevision copies the meeting's segments as they are now into a new
// revision named label, in the transaction, and returns its number.
func (t *Tx) SaveRevision(meetingID, label string) (int, error) {
	segs, err := segmentsOf(t.ctx, t.tx, meetingID)
	if err != nil {
		return 0, err
	}
	if segs == nil {
		segs = []transcript.Segment{}
	}
	b, err := json.Marshal(segs)
	if err != nil {
		return 0, err
	}
	var n int
	if err := t.tx.QueryRowContext(t.ctx, `SELECT coalesce(max(n), 0) + 1 FROM revisions WHERE meeting_id = ?`, meetingID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: revision: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO revisions(meeting_id, n, label, created, segments) VALUES(?, ?, ?, ?, ?)`,
		meetingID, n, label, time.Now().UTC().Format(time.RFC3339Nano), string(b)); err != nil {
		return 0, fmt.Errorf("store: revision: %w", err)
	}
	return n, nil
}

// Segments is Store.Segments in the transaction: what a job replacing
// some of them reads first.
func (t *Tx) Segments(meetingID string) ([]transcript.Segment, error) {
	return segmentsOf(t.ctx, t.tx, meetingID)
}

// Revisions lists a meeting's kept revisions, oldest first.
func (s *DB) Revisions(ctx context.Context, meetingID string) ([]Revision, error) {
	if _, err := s.Meeting(ctx, meetingID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT n, label, created, `+s.db.pick("json_array_length(segments)", "json_array_length(segments::json)")+` FROM revisions WHERE meeting_id = ? ORDER BY n`, meetingID)
	if err != nil {
		return nil, fmt.Errorf("store: revisions: %w", err)
	}
	defer rows.Close()
	out := []Revision{}
	for rows.Next() {
		var r Revision
		var created string
		if err := rows.Scan(&r.N, &r.Label, &created, &r.Segments); err != nil {
			return nil, err
		}
		r.Created, _ = time.Parse(time.RFC3339Nano, created)
		out = append(out, r)
	}
	return out, rows.Err()
}

// RevisionTranscript is the meeting's transcript with revision n's
// segments in place of the current ones (ErrNotFound without it).
func (s *DB) RevisionTranscript(ctx context.Context, meetingID string, n int) (*transcript.Transcript, error) {
	t, err := s.Transcript(ctx, meetingID)
	if err != nil {
		return nil, err
	}
	var b string
	err = s.db.QueryRowContext(ctx, `SELECT segments FROM revisions WHERE meeting_id = ? AND n = ?`, meetingID, n).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: revision %d of %q", ErrNotFound, n, meetingID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: revision: %w", err)
	}
	t.Segments = nil
	if err := json.Unmarshal([]byte(b), &t.Segments); err != nil {
		return nil, fmt.Errorf("store: revision %d of %q: %w", n, meetingID, err)
	}
	t.Sort()
	return t, nil
}
