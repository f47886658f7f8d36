package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/transcript"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the database file under the data directory.
const FileName = "parley.db"

// DB is the Store on SQLite (one database file in WAL mode: the
// single-node default, OpenSQLite) or on PostgreSQL (OpenPostgres).
type DB struct {
	db     *conn
	path   string
	closed atomic.Bool
}

var _ Store = (*DB)(nil)

// schema is applied once per database (user_version 0 → 1). Future
// versions append migrations; never edit a released one.
var migrations = []string{`
CREATE TABLE meetings (
	id      TEXT PRIMARY KEY,
	title   TEXT NOT NULL DEFAULT '',
	started TEXT NOT NULL DEFAULT ''
);
CREATE TABLE speakers (
	meeting_id TEXT NOT NULL REFERENCES meetings(id),
	id         TEXT NOT NULL,
	name       TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	PRIMARY KEY (meeting_id, id)
);
CREATE TABLE segments (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	meeting_id TEXT NOT NULL REFERENCES meetings(id),
	speaker_id TEXT NOT NULL,
	speaker    TEXT NOT NULL,
	start_s    REAL NOT NULL,
	end_s      REAL NOT NULL,
	text       TEXT NOT NULL,
	words      TEXT NOT NULL -- JSON [{"word","start","end"}]
);
CREATE INDEX segments_meeting ON segments(meeting_id, start_s);
CREATE TABLE events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	meeting_id TEXT NOT NULL REFERENCES meetings(id),
	at_s       REAL NOT NULL,
	kind       TEXT NOT NULL,
	speaker_id TEXT NOT NULL,
	speaker    TEXT NOT NULL,
	detail     TEXT NOT NULL
);
CREATE INDEX events_meeting ON events(meeting_id, at_s);
`, accessSchema, `
CREATE TABLE sessions (
	id_hash    TEXT PRIMARY KEY, -- hex SHA-256 of the cookie's id; never the id
	subject    TEXT NOT NULL,
	name       TEXT NOT NULL,
	email      TEXT NOT NULL,
	id_token   TEXT NOT NULL,
	created_ms INTEGER NOT NULL,
	expires_ms INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions(expires_ms);
`, jobsSchema, retentionSchema, revisionsSchema, recordingRetentionSchema, searchSchema, editsSchema, summariesSchema, roomEditSchema, secretsSchema, jobNodeSchema}

// OpenSQLite opens (creating if needed) dataDir/parley.db.
//
// WAL lets the HTTP API read transcripts while a meeting appends to them.
// synchronous=FULL fsyncs every commit: a segment is one commit per
// utterance (a few per second at most in a busy meeting), so the cost is
// small and a committed segment survives even an OS crash, not only a
// process crash (NORMAL would only guarantee the latter in WAL mode).
func OpenSQLite(ctx context.Context, dataDir string) (*DB, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("store: data dir: %w", err)
	}
	path := filepath.Join(dataDir, FileName)
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(5000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	// Transactions take the write lock when they begin (BEGIN
	// IMMEDIATE) and so wait their turn under busy_timeout: a deferred
	// transaction that reads first and then writes fails at once with
	// SQLITE_BUSY when another connection committed in between, which
	// busy_timeout cannot retry (a meeting deleted while its finalize
	// job wrote did exactly that).
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &DB{db: &conn{DB: db}, path: path}
	if err := s.migrate(ctx, len(migrations)); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path is the database file ("postgres" on PostgreSQL).
func (s *DB) Path() string { return s.path }

// migrate brings the schema to version `to` (tests stop early to make a
// database of an earlier version).
func (s *DB) migrate(ctx context.Context, to int) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("store: %s: %w", s.path, err)
	}
	if v > len(migrations) {
		return fmt.Errorf("store: %s has schema version %d, newer than this binary (%d)", s.path, v, len(migrations))
	}
	for ; v < to; v++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func (s *DB) check(id string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if id == "" {
		return fmt.Errorf("%w: empty meeting id", ErrInvalid)
	}
	return nil
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// CreateMeeting implements Store.
func (s *DB) CreateMeeting(ctx context.Context, m transcript.Meeting) error {
	if err := s.check(m.ID); err != nil {
		return err
	}
	return createMeeting(ctx, s.db, m)
}

func createMeeting(ctx context.Context, db execer, m transcript.Meeting) error {
	started := ""
	if !m.Started.IsZero() {
		started = m.Started.UTC().Format(time.RFC3339Nano)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO meetings(id, title, started) VALUES(?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET title = excluded.title, started = excluded.started`, m.ID, m.Title, started)
	if err != nil {
		return fmt.Errorf("store: create meeting %q: %w", m.ID, err)
	}
	return nil
}

// Meeting implements Store.
func (s *DB) Meeting(ctx context.Context, id string) (transcript.Meeting, error) {
	if err := s.check(id); err != nil {
		return transcript.Meeting{}, err
	}
	m := transcript.Meeting{ID: id}
	var started string
	err := s.db.QueryRowContext(ctx, `SELECT title, started FROM meetings WHERE id = ?`, id).Scan(&m.Title, &started)
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("%w: meeting %q", ErrNotFound, id)
	}
	if err != nil {
		return m, fmt.Errorf("store: meeting %q: %w", id, err)
	}
	if started != "" {
		m.Started, _ = time.Parse(time.RFC3339Nano, started)
	}
	return m, nil
}

// notFound turns a foreign-key failure (meeting missing) into ErrNotFound.
func (s *DB) notFound(ctx context.Context, id string, err error) error {
	if _, merr := s.Meeting(ctx, id); errors.Is(merr, ErrNotFound) {
		return merr
	}
	return err
}

// PutSpeaker implements Store.
func (s *DB) PutSpeaker(ctx context.Context, meetingID string, sp transcript.Speaker) error {
	if err := s.check(meetingID); err != nil {
		return err
	}
	if err := putSpeaker(ctx, s.db, meetingID, sp); err != nil {
		return s.notFound(ctx, meetingID, err)
	}
	return nil
}

func putSpeaker(ctx context.Context, db execer, meetingID string, sp transcript.Speaker) error {
	if meetingID == "" || sp.ID == "" {
		return fmt.Errorf("%w: empty meeting or speaker id", ErrInvalid)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO speakers(meeting_id, id, name, seq)
		VALUES(?, ?, ?, (SELECT COUNT(*) FROM speakers WHERE meeting_id = ?))
		ON CONFLICT(meeting_id, id) DO UPDATE SET name = excluded.name`, meetingID, sp.ID, sp.Name, meetingID)
	if err != nil {
		return fmt.Errorf("store: put speaker: %w", err)
	}
	return nil
}

// AppendSegment implements Store.
func (s *DB) AppendSegment(ctx context.Context, meetingID string, seg transcript.Segment) (int64, error) {
	if err := s.check(meetingID); err != nil {
		return 0, err
	}
	id, err := insertSegment(ctx, s.db, meetingID, seg)
	if err != nil {
		return 0, s.notFound(ctx, meetingID, err)
	}
	return id, nil
}

// execer is a *conn or a *dbTx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func insertSegment(ctx context.Context, db execer, meetingID string, seg transcript.Segment) (int64, error) {
	if !finite(seg.Start, seg.End) {
		return 0, fmt.Errorf("%w: segment time %v-%v", ErrInvalid, seg.Start, seg.End)
	}
	words := seg.Words
	if words == nil {
		words = []transcript.Word{}
	}
	for _, w := range words {
		if !finite(w.Start, w.End) {
			return 0, fmt.Errorf("%w: word time %v-%v", ErrInvalid, w.Start, w.End)
		}
	}
	wj, err := json.Marshal(words)
	if err != nil {
		return 0, err
	}
	var id int64
	err = db.QueryRowContext(ctx, `INSERT INTO segments(meeting_id, speaker_id, speaker, start_s, end_s, text, words)
		VALUES(?, ?, ?, ?, ?, ?, ?) RETURNING id`, meetingID, seg.SpeakerID, seg.Speaker, seg.Start, seg.End, seg.Text, string(wj)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: append segment: %w", err)
	}
	return id, nil
}

// ReplaceSegments implements Store.
func (s *DB) ReplaceSegments(ctx context.Context, meetingID, speakerID string, from, to float64, segs []transcript.Segment) error {
	if err := s.check(meetingID); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: replace segments: %w", err)
	}
	defer tx.Rollback()
	if err := replaceSegments(ctx, tx, meetingID, speakerID, from, to, segs); err != nil {
		return s.notFound(ctx, meetingID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: replace segments: %w", err)
	}
	return nil
}

func replaceSegments(ctx context.Context, db execer, meetingID, speakerID string, from, to float64, segs []transcript.Segment) error {
	if meetingID == "" {
		return fmt.Errorf("%w: empty meeting id", ErrInvalid)
	}
	if !finite(from, to) {
		return fmt.Errorf("%w: range %v-%v", ErrInvalid, from, to)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM segments WHERE meeting_id = ? AND speaker_id = ? AND start_s >= ? AND start_s < ?`,
		meetingID, speakerID, from, to); err != nil {
		return fmt.Errorf("store: replace segments: %w", err)
	}
	for _, seg := range segs {
		if _, err := insertSegment(ctx, db, meetingID, seg); err != nil {
			return err
		}
	}
	return nil
}

// AppendEvent implements Store.
func (s *DB) AppendEvent(ctx context.Context, meetingID string, e transcript.Event) error {
	if err := s.check(meetingID); err != nil {
		return err
	}
	if err := insertEvent(ctx, s.db, meetingID, e); err != nil {
		return s.notFound(ctx, meetingID, err)
	}
	return nil
}

func insertEvent(ctx context.Context, db execer, meetingID string, e transcript.Event) error {
	if meetingID == "" {
		return fmt.Errorf("%w: empty meeting id", ErrInvalid)
	}
	if !finite(e.At) || e.Kind == "" {
		return fmt.Errorf("%w: event %+v", ErrInvalid, e)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO events(meeting_id, at_s, kind, speaker_id, speaker, detail)
		VALUES(?, ?, ?, ?, ?, ?)`, meetingID, e.At, string(e.Kind), e.SpeakerID, e.Speaker, e.Detail)
	if err != nil {
		return fmt.Errorf("store: append event: %w", err)
	}
	return nil
}

// Segments implements Store.
func (s *DB) Segments(ctx context.Context, meetingID string) ([]transcript.Segment, error) {
	if _, err := s.Meeting(ctx, meetingID); err != nil {
		return nil, err
	}
	return segmentsOf(ctx, s.db, meetingID)
}

func segmentsOf(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, meetingID string) ([]transcript.Segment, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, speaker_id, speaker, start_s, end_s, text, words FROM segments
		WHERE meeting_id = ? ORDER BY start_s, end_s, speaker, id`, meetingID)
	if err != nil {
		return nil, fmt.Errorf("store: segments: %w", err)
	}
	defer rows.Close()
	var out []transcript.Segment
	for rows.Next() {
		var seg transcript.Segment
		var wj string
		if err := rows.Scan(&seg.ID, &seg.SpeakerID, &seg.Speaker, &seg.Start, &seg.End, &seg.Text, &wj); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(wj), &seg.Words); err != nil {
			return nil, fmt.Errorf("store: segment words: %w", err)
		}
		out = append(out, seg)
	}
	return out, rows.Err()
}

// Transcript implements Store.
func (s *DB) Transcript(ctx context.Context, meetingID string) (*transcript.Transcript, error) {
	m, err := s.Meeting(ctx, meetingID)
	if err != nil {
		return nil, err
	}
	t := &transcript.Transcript{Meeting: m, Speakers: []transcript.Speaker{}}
	rows, err := s.db.QueryContext(ctx, `SELECT id, name FROM speakers WHERE meeting_id = ? ORDER BY seq`, meetingID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var sp transcript.Speaker
		if err := rows.Scan(&sp.ID, &sp.Name); err != nil {
			rows.Close()
			return nil, err
		}
		t.Speakers = append(t.Speakers, sp)
	}
	rows.Close()
	if t.Segments, err = s.Segments(ctx, meetingID); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, `SELECT at_s, kind, speaker_id, speaker, detail FROM events
		WHERE meeting_id = ? ORDER BY at_s, id`, meetingID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var e transcript.Event
		var kind string
		if err := rows.Scan(&e.At, &kind, &e.SpeakerID, &e.Speaker, &e.Detail); err != nil {
			return nil, err
		}
		e.Kind = transcript.EventKind(kind)
		t.Events = append(t.Events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if t.Summary, err = s.Summary(ctx, meetingID); err != nil {
		return nil, err
	}
	t.Sort()
	return t, nil
}

// Close implements Store.
func (s *DB) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.db.Close()
}
