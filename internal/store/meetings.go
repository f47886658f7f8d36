package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// MeetingSummary is one line of a caller's list of meetings.
type MeetingSummary struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	RoomID   string    `json:"room"`
	Started  time.Time `json:"started"`
	Duration float64   `json:"duration"` // seconds, to the end of the last segment
	Segments int       `json:"segments"`
	Speakers []string  `json:"speakers"` // names, in order of first appearance
	// Role is the caller's best role in it: owner, moderator,
	// participant or guest.
	Role string `json:"role"`
}

// roleRank orders roles from the most to the least rights.
var roleRank = map[string]int{"owner": 4, "moderator": 3, "participant": 2, "guest": 1}

// Meetings lists the meetings a caller may read (as Search: by key
// hashes, the signed-in subject's meetings and those of the rooms it
// owns), transcribed or not (a meeting never transcribed has no title
// and starts when its first participant was let in), newest first, at most limit (100 when 0, at most 1000).
func (s *DB) Meetings(ctx context.Context, subject string, keyHashes []string, limit int) ([]MeetingSummary, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if len(keyHashes) > MaxSearchKeys {
		return nil, fmt.Errorf("%w: at most %d meeting keys", ErrInvalid, MaxSearchKeys)
	}
	if subject == "" && len(keyHashes) == 0 {
		return nil, nil
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	rows, err := s.db.QueryContext(ctx, s.db.readableCTE()+`
		SELECT d.id, coalesce(m.title, ''),
			coalesce(nullif(m.started, ''), (SELECT min(granted) FROM meeting_access WHERE meeting_id = d.id)) AS started,
			coalesce((SELECT min(room_id) FROM meeting_access WHERE meeting_id = d.id), ''),
			(SELECT `+s.db.pick("group_concat(role)", "string_agg(role, ',')")+` FROM readable WHERE meeting_id = d.id),
			coalesce((SELECT max(end_s) FROM segments WHERE meeting_id = d.id), 0),
			(SELECT count(*) FROM segments WHERE meeting_id = d.id),
			`+s.db.pick(`(SELECT json_group_array(name) FROM (SELECT name FROM speakers WHERE meeting_id = d.id ORDER BY seq))`,
		`coalesce((SELECT json_agg(name ORDER BY seq) FROM speakers WHERE meeting_id = d.id)::text, '[]')`)+`
		FROM (SELECT DISTINCT meeting_id AS id FROM readable) d
		LEFT JOIN meetings m ON m.id = d.id
		ORDER BY started DESC, d.id
		LIMIT ?`, append(readableArgs(subject, keyHashes), limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: meetings: %w", err)
	}
	defer rows.Close()
	var out []MeetingSummary
	for rows.Next() {
		var m MeetingSummary
		var started, roles, speakers string
		if err := rows.Scan(&m.ID, &m.Title, &started, &m.RoomID, &roles, &m.Duration, &m.Segments, &speakers); err != nil {
			return nil, fmt.Errorf("store: meetings: %w", err)
		}
		m.Started, _ = time.Parse(time.RFC3339Nano, started)
		for _, r := range strings.Split(roles, ",") {
			if roleRank[r] > roleRank[m.Role] {
				m.Role = r
			}
		}
		if err := json.Unmarshal([]byte(speakers), &m.Speakers); err != nil || m.Speakers == nil {
			m.Speakers = []string{}
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: meetings: %w", err)
	}
	return out, nil
}

// PendingJobKeys lists the keys of the jobs queued or running: few at
// any time, so a caller can tell which meetings are still being worked
// on (finalized, transcribed) without a query per meeting.
func (s *DB) PendingJobKeys(ctx context.Context) ([]string, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := s.db.QueryContext(ctx, `SELECT key FROM jobs WHERE state IN (?, ?)`, JobQueued, JobRunning)
	if err != nil {
		return nil, fmt.Errorf("store: pending jobs: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("store: pending jobs: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
