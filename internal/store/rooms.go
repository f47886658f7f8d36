package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrExists means a room with that id already exists.
var ErrExists = errors.New("store: already exists")

// accessSchema holds rooms and their settings, the people listed in a
// room, who may read which meeting, and the audit log.
const accessSchema = `
CREATE TABLE rooms (
	id               TEXT PRIMARY KEY,
	owner            TEXT NOT NULL DEFAULT '',
	creator_hash     TEXT NOT NULL DEFAULT '',
	access           TEXT NOT NULL DEFAULT 'public',
	locked           INTEGER NOT NULL DEFAULT 0,
	transcription_by TEXT NOT NULL DEFAULT 'everyone',
	speak_moderated  INTEGER NOT NULL DEFAULT 0,
	created          TEXT NOT NULL
);
CREATE INDEX rooms_owner ON rooms(owner);
CREATE TABLE room_members (
	room_id TEXT NOT NULL REFERENCES rooms(id),
	subject TEXT NOT NULL,
	role    TEXT NOT NULL,
	PRIMARY KEY (room_id, subject)
);
CREATE TABLE meeting_access (
	meeting_id TEXT NOT NULL,
	room_id    TEXT NOT NULL,
	subject    TEXT NOT NULL,
	key_hash   TEXT NOT NULL,
	role       TEXT NOT NULL,
	granted    TEXT NOT NULL,
	PRIMARY KEY (meeting_id, subject)
);
CREATE INDEX meeting_access_key ON meeting_access(key_hash);
CREATE INDEX meeting_access_subject ON meeting_access(subject);
CREATE TABLE audit (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	at      TEXT NOT NULL,
	room_id TEXT NOT NULL,
	actor   TEXT NOT NULL,
	name    TEXT NOT NULL,
	addr    TEXT NOT NULL,
	action  TEXT NOT NULL,
	detail  TEXT NOT NULL
);
CREATE INDEX audit_room ON audit(room_id, id);
`

// Room is a room's lasting record: who owns it and its settings.
type Room struct {
	ID    string
	Owner string // subject of the owner ("" for a room made in open mode)
	// CreatorHash is the hash of the creator token given to the browser
	// that created the room in open mode ("" otherwise).
	CreatorHash     string
	Access          string // public, trusted or restricted
	Locked          bool
	TranscriptionBy string // moderators or everyone
	SpeakModerated  bool   // a participant muted by a moderator may not unmute
	RetainDays      int    // keep its meetings' transcripts this many days; 0: the server's default
	// RetainRecordingDays keeps its meetings' recording files this many
	// days (the transcript may stay longer); 0: the server's default.
	RetainRecordingDays int
	// ParticipantsEdit lets every participant of its meetings correct
	// their transcripts (else the owner and moderators only).
	ParticipantsEdit bool
	Created          time.Time
}

// CreateRoom records a new room; ErrExists if the id is taken.
func (s *DB) CreateRoom(ctx context.Context, r Room) error {
	if err := s.check(r.ID); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO rooms(id, owner, creator_hash, access, locked, transcription_by, speak_moderated, retain_days, retain_recording_days, participants_edit, created)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
		r.ID, r.Owner, r.CreatorHash, r.Access, r.Locked, r.TranscriptionBy, r.SpeakModerated, r.RetainDays, r.RetainRecordingDays, r.ParticipantsEdit, r.Created.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("store: create room: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrExists
	}
	return nil
}

// Room returns one room or ErrNotFound.
func (s *DB) Room(ctx context.Context, id string) (Room, error) {
	if err := s.check(id); err != nil {
		return Room{}, err
	}
	rows, err := s.rooms(ctx, `WHERE id = ?`, id)
	if err != nil {
		return Room{}, err
	}
	if len(rows) == 0 {
		return Room{}, ErrNotFound
	}
	return rows[0], nil
}

// RoomsOwnedBy lists a subject's rooms, newest first.
func (s *DB) RoomsOwnedBy(ctx context.Context, owner string) ([]Room, error) {
	if owner == "" {
		return nil, fmt.Errorf("%w: empty owner", ErrInvalid)
	}
	return s.rooms(ctx, `WHERE owner = ? ORDER BY created DESC`, owner)
}

func (s *DB) rooms(ctx context.Context, where string, args ...any) ([]Room, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, owner, creator_hash, access, locked, transcription_by, speak_moderated, retain_days, retain_recording_days, participants_edit, created FROM rooms `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: rooms: %w", err)
	}
	defer rows.Close()
	var out []Room
	for rows.Next() {
		var r Room
		var created string
		if err := rows.Scan(&r.ID, &r.Owner, &r.CreatorHash, &r.Access, &r.Locked, &r.TranscriptionBy, &r.SpeakModerated, &r.RetainDays, &r.RetainRecordingDays, &r.ParticipantsEdit, &created); err != nil {
			return nil, fmt.Errorf("store: rooms: %w", err)
		}
		r.Created, _ = time.Parse(time.RFC3339Nano, created)
		out = append(out, r)
	}
	return out, rows.Err()
}

// UpdateRoom saves a room's settings (not its owner or creator).
func (s *DB) UpdateRoom(ctx context.Context, r Room) error {
	if err := s.check(r.ID); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE rooms SET access = ?, locked = ?, transcription_by = ?, speak_moderated = ?, retain_days = ?, retain_recording_days = ?, participants_edit = ? WHERE id = ?`,
		r.Access, r.Locked, r.TranscriptionBy, r.SpeakModerated, r.RetainDays, r.RetainRecordingDays, r.ParticipantsEdit, r.ID)
	if err != nil {
		return fmt.Errorf("store: update room: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetMember lists subject in a room with a role (member or moderator);
// an empty role takes them off the list.
func (s *DB) SetMember(ctx context.Context, roomID, subject, role string) error {
	if err := s.check(roomID); err != nil {
		return err
	}
	if subject == "" {
		return fmt.Errorf("%w: empty subject", ErrInvalid)
	}
	var err error
	if role == "" {
		_, err = s.db.ExecContext(ctx, `DELETE FROM room_members WHERE room_id = ? AND subject = ?`, roomID, subject)
	} else {
		_, err = s.db.ExecContext(ctx, `INSERT INTO room_members(room_id, subject, role) VALUES(?, ?, ?)
			ON CONFLICT(room_id, subject) DO UPDATE SET role = excluded.role`, roomID, subject, role)
	}
	if err != nil {
		return fmt.Errorf("store: room member: %w", err)
	}
	return nil
}

// SetListed replaces the entries of a room's member list whose subject
// starts with prefix (the owner's list of e-mail addresses, say) by
// listed, in one transaction; other entries (people promoted in a
// meeting) stay.
func (s *DB) SetListed(ctx context.Context, roomID, prefix string, listed map[string]string) error {
	if err := s.check(roomID); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: room members: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM room_members WHERE room_id = ? AND substr(subject, 1, ?) = ?`,
		roomID, len(prefix), prefix); err != nil {
		return fmt.Errorf("store: room members: %w", err)
	}
	for sub, role := range listed {
		if !strings.HasPrefix(sub, prefix) || len(sub) == len(prefix) || role == "" {
			return fmt.Errorf("%w: member %q", ErrInvalid, sub)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO room_members(room_id, subject, role) VALUES(?, ?, ?)`, roomID, sub, role); err != nil {
			return fmt.Errorf("store: room members: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: room members: %w", err)
	}
	return nil
}

// Members returns a room's listed subjects and their roles.
func (s *DB) Members(ctx context.Context, roomID string) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT subject, role FROM room_members WHERE room_id = ?`, roomID)
	if err != nil {
		return nil, fmt.Errorf("store: members: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var sub, role string
		if err := rows.Scan(&sub, &role); err != nil {
			return nil, err
		}
		out[sub] = role
	}
	return out, rows.Err()
}

// Grant is one person's right to read a meeting's record.
type Grant struct {
	MeetingID string
	RoomID    string
	Subject   string
	KeyHash   string // hash of the meeting key their browser keeps
	Role      string
}

// GrantMeeting records a participant's right to a meeting. A subject
// granted again (a second join) gets the newer key; the older stays
// valid through its own row only if the subject differs.
func (s *DB) GrantMeeting(ctx context.Context, g Grant) error {
	if err := s.check(g.MeetingID); err != nil {
		return err
	}
	return grantMeeting(ctx, s.db, g)
}

func grantMeeting(ctx context.Context, db execer, g Grant) error {
	if g.Subject == "" || g.KeyHash == "" {
		return fmt.Errorf("%w: grant without subject or key", ErrInvalid)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO meeting_access(meeting_id, room_id, subject, key_hash, role, granted) VALUES(?, ?, ?, ?, ?, ?)
		ON CONFLICT(meeting_id, subject) DO UPDATE SET key_hash = excluded.key_hash, role = excluded.role`,
		g.MeetingID, g.RoomID, g.Subject, g.KeyHash, g.Role, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("store: grant: %w", err)
	}
	return nil
}

// MayRead reports whether a meeting may be read with a meeting key's
// hash, or by a signed-in subject who took part in it or owns its room.
// Empty credentials match nothing.
func (s *DB) MayRead(ctx context.Context, meetingID, keyHash, subject string) (bool, error) {
	if s.closed.Load() {
		return false, ErrClosed
	}
	if keyHash == "" && subject == "" {
		return false, nil
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM meeting_access a
		WHERE a.meeting_id = ? AND ((? != '' AND a.key_hash = ?) OR (? != '' AND a.subject = ?)
			OR (? != '' AND EXISTS (SELECT 1 FROM rooms r WHERE r.id = a.room_id AND r.owner = ?)))`,
		meetingID, keyHash, keyHash, subject, subject, subject, subject).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: may read: %w", err)
	}
	return n > 0, nil
}

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	RoomID string    `json:"room"`
	Actor  string    `json:"actor"` // subject ("" for the server itself)
	Name   string    `json:"name"`  // display name at the time
	Addr   string    `json:"addr"`  // remote address
	Action string    `json:"action"`
	Detail string    `json:"detail,omitempty"`
}

// Audit appends a row to the audit log.
func (s *DB) Audit(ctx context.Context, e AuditEntry) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if e.Action == "" {
		return fmt.Errorf("%w: audit row without action", ErrInvalid)
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit(at, room_id, actor, name, addr, action, detail) VALUES(?, ?, ?, ?, ?, ?, ?)`,
		e.At.UTC().Format(time.RFC3339Nano), e.RoomID, e.Actor, e.Name, e.Addr, e.Action, e.Detail)
	if err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// AuditLog returns a room's audit rows, newest first, at most limit (so
// a long log loses its oldest rows, never its latest).
func (s *DB) AuditLog(ctx context.Context, roomID string, limit int) ([]AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, room_id, actor, name, addr, action, detail FROM audit
		WHERE room_id = ? ORDER BY id DESC LIMIT ?`, roomID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at string
		if err := rows.Scan(&e.ID, &at, &e.RoomID, &e.Actor, &e.Name, &e.Addr, &e.Action, &e.Detail); err != nil {
			return nil, err
		}
		e.At, _ = time.Parse(time.RFC3339Nano, at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Grant returns the grant of a meeting key's hash, or ErrNotFound.
func (s *DB) Grant(ctx context.Context, meetingID, keyHash string) (Grant, error) {
	g := Grant{MeetingID: meetingID, KeyHash: keyHash}
	err := s.db.QueryRowContext(ctx, `SELECT room_id, subject, role FROM meeting_access WHERE meeting_id = ? AND key_hash = ?`,
		meetingID, keyHash).Scan(&g.RoomID, &g.Subject, &g.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return Grant{}, ErrNotFound
	}
	if err != nil {
		return Grant{}, fmt.Errorf("store: grant: %w", err)
	}
	return g, nil
}
