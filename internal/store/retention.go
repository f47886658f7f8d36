package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// retentionSchema lets a room's owner keep its transcripts for a number
// of days other than the server's default (0: the default).
const retentionSchema = `
ALTER TABLE rooms ADD COLUMN retain_days INTEGER NOT NULL DEFAULT 0;
`

// recordingRetentionSchema: the same for a room's recording files.
const recordingRetentionSchema = `
ALTER TABLE rooms ADD COLUMN retain_recording_days INTEGER NOT NULL DEFAULT 0;
`

// Deleted is what DeleteMeeting removed, for the audit log: counts and
// the room, never the content.
type Deleted struct {
	MeetingID string
	RoomID    string // "" when nobody was granted the meeting
	Segments  int64
	Events    int64
}

// DeleteMeeting removes a meeting and everything the store holds of it
// (segments, events, speakers, access grants) in one transaction, and
// cancels its jobs (by key: finalize, upload) that have not finished. ErrNotFound if the
// meeting does not exist (deleting twice is harmless for the caller that
// ignores it). Files (spools, recordings) are the caller's.
func (s *DB) DeleteMeeting(ctx context.Context, meetingID string, jobKeys ...string) (Deleted, error) {
	d := Deleted{MeetingID: meetingID}
	if err := s.check(meetingID); err != nil {
		return d, err
	}
	err := s.InTx(ctx, func(tx *Tx) error {
		err := tx.tx.QueryRowContext(ctx, `SELECT coalesce((SELECT room_id FROM meeting_access WHERE meeting_id = ? LIMIT 1), '')
			FROM meetings WHERE id = ?`, meetingID, meetingID).Scan(&d.RoomID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: meeting %q", ErrNotFound, meetingID)
		}
		if err != nil {
			return err
		}
		for _, q := range []struct {
			sql string
			n   *int64
		}{
			{`DELETE FROM segments WHERE meeting_id = ?`, &d.Segments},
			{`DELETE FROM events WHERE meeting_id = ?`, &d.Events},
			{`DELETE FROM revisions WHERE meeting_id = ?`, nil},
			{`DELETE FROM edits WHERE meeting_id = ?`, nil},
			{`DELETE FROM summaries WHERE meeting_id = ?`, nil},
			{`DELETE FROM speakers WHERE meeting_id = ?`, nil},
			{`DELETE FROM meeting_access WHERE meeting_id = ?`, nil},
			{`DELETE FROM meetings WHERE id = ?`, nil},
		} {
			res, err := tx.tx.ExecContext(ctx, q.sql, meetingID)
			if err != nil {
				return err
			}
			if q.n != nil {
				*q.n, _ = res.RowsAffected()
			}
		}
		for _, key := range jobKeys {
			if _, err := tx.tx.ExecContext(ctx, `UPDATE jobs SET state = ?, lease_owner = '', lease_ms = 0, updated_ms = ?
				WHERE key = ? AND state IN (?, ?, ?)`, JobCancelled, time.Now().UnixMilli(), key, JobQueued, JobRunning, JobDead); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("store: delete meeting %q: %w", meetingID, err)
	}
	return d, err
}

// DueMeeting is a meeting whose retention has run out.
type DueMeeting struct {
	ID      string
	RoomID  string
	Started time.Time
	Kept    time.Duration // the retention that applied
}

// MeetingsDue lists the meetings started at least their retention before
// now: the room's own (retain_days) when set, else def; def 0 keeps
// meetings of rooms without their own forever. Meetings without a start
// time are kept.
func (s *DB) MeetingsDue(ctx context.Context, now time.Time, def time.Duration) ([]DueMeeting, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := s.db.QueryContext(ctx, `SELECT m.id, m.started, coalesce(a.room_id, ''), coalesce(r.retain_days, 0)
		FROM meetings m
		LEFT JOIN (SELECT meeting_id, min(room_id) AS room_id FROM meeting_access GROUP BY meeting_id) a ON a.meeting_id = m.id
		LEFT JOIN rooms r ON r.id = a.room_id
		WHERE m.started != ''`)
	if err != nil {
		return nil, fmt.Errorf("store: meetings due: %w", err)
	}
	defer rows.Close()
	var out []DueMeeting
	for rows.Next() {
		var d DueMeeting
		var started string
		var days int
		if err := rows.Scan(&d.ID, &started, &d.RoomID, &days); err != nil {
			return nil, fmt.Errorf("store: meetings due: %w", err)
		}
		d.Kept = def
		if days > 0 {
			d.Kept = time.Duration(days) * 24 * time.Hour
		}
		t, err := time.Parse(time.RFC3339Nano, started)
		if err != nil || d.Kept <= 0 || now.Sub(t) < d.Kept {
			continue
		}
		d.Started = t
		out = append(out, d)
	}
	return out, rows.Err()
}

// MayDelete reports whether a credential may delete a meeting, and the
// meeting's room: the owner of its room (a signed-in subject), or someone
// who joined it as its owner or a moderator (their meeting key, or their
// subject).
func (s *DB) MayDelete(ctx context.Context, meetingID, keyHash, subject string) (roomID string, ok bool, err error) {
	if s.closed.Load() {
		return "", false, ErrClosed
	}
	if keyHash == "" && subject == "" {
		return "", false, nil
	}
	err = s.db.QueryRowContext(ctx, `SELECT a.room_id FROM meeting_access a
		WHERE a.meeting_id = ? AND (
			(a.role IN ('owner', 'moderator') AND ((? != '' AND a.key_hash = ?) OR (? != '' AND a.subject = ?)))
			OR (? != '' AND EXISTS (SELECT 1 FROM rooms r WHERE r.id = a.room_id AND r.owner = ?)))
		LIMIT 1`,
		meetingID, keyHash, keyHash, subject, subject, subject, subject).Scan(&roomID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: may delete: %w", err)
	}
	return roomID, true, nil
}
