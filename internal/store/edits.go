package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/transcript"
)

// editsSchema keeps the history of the corrections made to a meeting's
// transcript: who, when, what it was before and after. An undo is an
// edit of its own that names the one it undid.
const editsSchema = `
CREATE TABLE edits (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	meeting_id TEXT NOT NULL REFERENCES meetings(id),
	at         TEXT NOT NULL,
	actor      TEXT NOT NULL,
	name       TEXT NOT NULL,
	kind       TEXT NOT NULL,
	before     TEXT NOT NULL, -- JSON: the segments (or speaker) as they were
	after      TEXT NOT NULL, -- JSON: as they became
	undoes     INTEGER NOT NULL DEFAULT 0, -- for an undo: the edit it undid
	undone     INTEGER NOT NULL DEFAULT 0  -- 1 once undone
);
CREATE INDEX edits_meeting ON edits(meeting_id, id);
`

// roomEditSchema lets a room's owner open corrections to every
// participant.
const roomEditSchema = `
ALTER TABLE rooms ADD COLUMN participants_edit INTEGER NOT NULL DEFAULT 0;
`

// MayEdit reports whether a caller may correct a meeting's transcript:
// those who may delete it (MayDelete), and, when the room lets
// participants edit, anyone the meeting was granted to. It returns the
// meeting's room.
func (s *DB) MayEdit(ctx context.Context, meetingID, keyHash, subject string) (roomID string, ok bool, err error) {
	if roomID, ok, err = s.MayDelete(ctx, meetingID, keyHash, subject); ok || err != nil {
		return roomID, ok, err
	}
	if keyHash == "" && subject == "" {
		return "", false, nil
	}
	err = s.db.QueryRowContext(ctx, `SELECT a.room_id FROM meeting_access a JOIN rooms r ON r.id = a.room_id
		WHERE a.meeting_id = ? AND r.participants_edit = 1 AND ((? != '' AND a.key_hash = ?) OR (? != '' AND a.subject = ?))
		LIMIT 1`, meetingID, keyHash, keyHash, subject, subject).Scan(&roomID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: may edit: %w", err)
	}
	return roomID, true, nil
}

// Edit kinds.
const (
	EditRename = "rename_speaker"
	EditText   = "edit_text"
	EditMerge  = "merge"
	EditSplit  = "split"
	EditUndo   = "undo"
)

// MaxSegmentText bounds an edited segment's text; MaxSpeakerName a
// speaker's new name.
const (
	MaxSegmentText = 10000
	MaxSpeakerName = 100
)

// EditRequest is one correction. Kind says which fields count:
// rename_speaker (SpeakerID, Name), edit_text (SegmentID, Text), merge
// (SegmentID and With: the next segment of the same speaker), split
// (SegmentID, At: a character offset inside the text, between words),
// undo (none: the latest edit not undone).
type EditRequest struct {
	Kind      string `json:"kind"`
	SpeakerID string `json:"speaker_id,omitempty"`
	Name      string `json:"name,omitempty"`
	SegmentID int64  `json:"segment_id,omitempty"`
	With      int64  `json:"with,omitempty"`
	Text      string `json:"text,omitempty"`
	At        int    `json:"at,omitempty"`
}

// EditRecord is one row of a meeting's edit history.
type EditRecord struct {
	ID     int64           `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Name   string          `json:"name"`
	Kind   string          `json:"kind"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Undoes int64           `json:"undoes,omitempty"`
	Undone bool            `json:"undone"`
}

// editState is what an edit changes: the segments it touched (whole)
// and, for a rename, the speaker.
type editState struct {
	Segments []transcript.Segment `json:"segments"`
	Speaker  *transcript.Speaker  `json:"speaker,omitempty"`
}

// ErrConflict: the edit does not apply to the transcript as it is (a
// merge of segments that are not neighbours of one speaker, nothing to
// undo).
var ErrConflict = errors.New("store: edit does not apply")

// Edit applies one correction to a meeting's transcript in one
// transaction, with its row in the history, and returns that row.
func (s *DB) Edit(ctx context.Context, meetingID, actor, name string, req EditRequest) (EditRecord, error) {
	var rec EditRecord
	if err := s.check(meetingID); err != nil {
		return rec, err
	}
	err := s.InTx(ctx, func(tx *Tx) error {
		if _, err := meetingOf(ctx, tx.tx, meetingID); err != nil {
			return err
		}
		var before, after editState
		var undoes int64
		var err error
		switch req.Kind {
		case EditRename:
			before, after, err = renameSpeaker(ctx, tx.tx, meetingID, req)
		case EditText:
			before, after, err = editText(ctx, tx.tx, meetingID, req)
		case EditMerge:
			before, after, err = mergeSegments(ctx, tx.tx, meetingID, req)
		case EditSplit:
			before, after, err = splitSegment(ctx, tx.tx, meetingID, req)
		case EditUndo:
			before, after, undoes, err = undoLast(ctx, tx.tx, meetingID)
		default:
			err = fmt.Errorf("%w: edit kind %q (rename_speaker, edit_text, merge, split or undo)", ErrInvalid, req.Kind)
		}
		if err != nil {
			return err
		}
		bj, _ := json.Marshal(before)
		aj, _ := json.Marshal(after)
		now := time.Now().UTC()
		var id int64
		err = tx.tx.QueryRowContext(ctx, `INSERT INTO edits(meeting_id, at, actor, name, kind, before, after, undoes) VALUES(?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			meetingID, now.Format(time.RFC3339Nano), actor, name, req.Kind, string(bj), string(aj), undoes).Scan(&id)
		if err != nil {
			return err
		}
		if undoes != 0 {
			if _, err := tx.tx.ExecContext(ctx, `UPDATE edits SET undone = 1 WHERE id = ?`, undoes); err != nil {
				return err
			}
		}
		rec = EditRecord{At: now, Actor: actor, Name: name, Kind: req.Kind, Before: bj, After: aj, Undoes: undoes}
		rec.ID = id
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrConflict) {
		err = fmt.Errorf("store: edit: %w", err)
	}
	return rec, err
}

// Edits lists a meeting's edit history, oldest first.
func (s *DB) Edits(ctx context.Context, meetingID string) ([]EditRecord, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, actor, name, kind, before, after, undoes, undone FROM edits WHERE meeting_id = ? ORDER BY id`, meetingID)
	if err != nil {
		return nil, fmt.Errorf("store: edits: %w", err)
	}
	defer rows.Close()
	out := []EditRecord{}
	for rows.Next() {
		var e EditRecord
		var at, before, after string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Name, &e.Kind, &before, &after, &e.Undoes, &e.Undone); err != nil {
			return nil, fmt.Errorf("store: edits: %w", err)
		}
		e.At, _ = time.Parse(time.RFC3339Nano, at)
		e.Before, e.After = json.RawMessage(before), json.RawMessage(after)
		out = append(out, e)
	}
	return out, rows.Err()
}

func meetingOf(ctx context.Context, db *dbTx, id string) (string, error) {
	var got string
	err := db.QueryRowContext(ctx, `SELECT id FROM meetings WHERE id = ?`, id).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: meeting %q", ErrNotFound, id)
	}
	return got, err
}

// cleanText trims an edited text and refuses what a transcript must not
// hold: control characters (tabs and line breaks become spaces),
// invisible format characters, invalid UTF-8.
func cleanText(s string, maxLen int, what string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: %s is not UTF-8", ErrInvalid, what)
	}
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\t' || r == '\n' || r == '\r' || r == ' ' }), " ")
	for _, r := range s {
		// Format characters (zero-width spaces, BOM, bidirectional
		// controls) hide or reorder text; joiners are kept for the
		// scripts that need them.
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) && r != 0x200c && r != 0x200d {
			return "", fmt.Errorf("%w: %s holds a control or invisible character", ErrInvalid, what)
		}
	}
	if s == "" {
		return "", fmt.Errorf("%w: empty %s", ErrInvalid, what)
	}
	if len(s) > maxLen {
		return "", fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, what, maxLen)
	}
	return s, nil
}

func segmentByID(ctx context.Context, db *dbTx, meetingID string, id int64) (transcript.Segment, error) {
	var seg transcript.Segment
	var wj string
	err := db.QueryRowContext(ctx, `SELECT id, speaker_id, speaker, start_s, end_s, text, words FROM segments WHERE meeting_id = ? AND id = ?`,
		meetingID, id).Scan(&seg.ID, &seg.SpeakerID, &seg.Speaker, &seg.Start, &seg.End, &seg.Text, &wj)
	if errors.Is(err, sql.ErrNoRows) {
		return seg, fmt.Errorf("%w: segment %d", ErrNotFound, id)
	}
	if err != nil {
		return seg, err
	}
	json.Unmarshal([]byte(wj), &seg.Words)
	return seg, nil
}

func renameSpeaker(ctx context.Context, db *dbTx, meetingID string, req EditRequest) (before, after editState, err error) {
	name, err := cleanText(req.Name, MaxSpeakerName, "name")
	if err != nil {
		return before, after, err
	}
	if req.SpeakerID == "" {
		return before, after, fmt.Errorf("%w: speaker_id", ErrInvalid)
	}
	old := transcript.Speaker{ID: req.SpeakerID}
	err = db.QueryRowContext(ctx, `SELECT name FROM speakers WHERE meeting_id = ? AND id = ?`, meetingID, req.SpeakerID).Scan(&old.Name)
	if errors.Is(err, sql.ErrNoRows) {
		// A speaker known by its segments only: its name is theirs.
		err = db.QueryRowContext(ctx, `SELECT speaker FROM segments WHERE meeting_id = ? AND speaker_id = ? LIMIT 1`, meetingID, req.SpeakerID).Scan(&old.Name)
		if errors.Is(err, sql.ErrNoRows) {
			return before, after, fmt.Errorf("%w: speaker %q", ErrNotFound, req.SpeakerID)
		}
	}
	if err != nil {
		return before, after, err
	}
	if err := setSpeakerName(ctx, db, meetingID, req.SpeakerID, name); err != nil {
		return before, after, err
	}
	return editState{Speaker: &old}, editState{Speaker: &transcript.Speaker{ID: req.SpeakerID, Name: name}}, nil
}

// setSpeakerName renames a speaker everywhere: the speaker list, every
// segment and event.
func setSpeakerName(ctx context.Context, db *dbTx, meetingID, speakerID, name string) error {
	if _, err := db.ExecContext(ctx, `UPDATE speakers SET name = ? WHERE meeting_id = ? AND id = ?`, name, meetingID, speakerID); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `UPDATE segments SET speaker = ? WHERE meeting_id = ? AND speaker_id = ?`, name, meetingID, speakerID); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, `UPDATE events SET speaker = ? WHERE meeting_id = ? AND speaker_id = ?`, name, meetingID, speakerID)
	return err
}

// spreadWords gives a new text's words times spread over the segment in
// proportion to their length: the recogniser's times no longer apply.
func spreadWords(text string, start, end float64) []transcript.Word {
	fields := strings.Fields(text)
	total := 0
	for _, f := range fields {
		total += utf8.RuneCountInString(f) + 1
	}
	out := make([]transcript.Word, 0, len(fields))
	at := start
	for _, f := range fields {
		d := (end - start) * float64(utf8.RuneCountInString(f)+1) / float64(max(total, 1))
		out = append(out, transcript.Word{Word: f, Start: round3(at), End: round3(at + d)})
		at += d
	}
	return out
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func updateSegment(ctx context.Context, db *dbTx, seg transcript.Segment) error {
	wj, _ := json.Marshal(seg.Words)
	if seg.Words == nil {
		wj = []byte("[]")
	}
	_, err := db.ExecContext(ctx, `UPDATE segments SET speaker_id = ?, speaker = ?, start_s = ?, end_s = ?, text = ?, words = ? WHERE id = ?`,
		seg.SpeakerID, seg.Speaker, seg.Start, seg.End, seg.Text, string(wj), seg.ID)
	return err
}

// insertSegmentWithID puts back a segment an undo restores, under its
// own id so that links to it hold.
func insertSegmentWithID(ctx context.Context, db *dbTx, meetingID string, seg transcript.Segment) error {
	wj, _ := json.Marshal(seg.Words)
	if seg.Words == nil {
		wj = []byte("[]")
	}
	_, err := db.ExecContext(ctx, `INSERT INTO segments(id, meeting_id, speaker_id, speaker, start_s, end_s, text, words) VALUES(?, ?, ?, ?, ?, ?, ?, ?)`,
		seg.ID, meetingID, seg.SpeakerID, seg.Speaker, seg.Start, seg.End, seg.Text, string(wj))
	return err
}

func editText(ctx context.Context, db *dbTx, meetingID string, req EditRequest) (before, after editState, err error) {
	text, err := cleanText(req.Text, MaxSegmentText, "text")
	if err != nil {
		return before, after, err
	}
	seg, err := segmentByID(ctx, db, meetingID, req.SegmentID)
	if err != nil {
		return before, after, err
	}
	changed := seg
	changed.Text = text
	if text != seg.Text {
		changed.Words = spreadWords(text, seg.Start, seg.End)
	}
	if err := updateSegment(ctx, db, changed); err != nil {
		return before, after, err
	}
	return editState{Segments: []transcript.Segment{seg}}, editState{Segments: []transcript.Segment{changed}}, nil
}

func mergeSegments(ctx context.Context, db *dbTx, meetingID string, req EditRequest) (before, after editState, err error) {
	a, err := segmentByID(ctx, db, meetingID, req.SegmentID)
	if err != nil {
		return before, after, err
	}
	b, err := segmentByID(ctx, db, meetingID, req.With)
	if err != nil {
		return before, after, err
	}
	if a.ID == b.ID || a.SpeakerID != b.SpeakerID {
		return before, after, fmt.Errorf("%w: only two segments of one speaker merge", ErrConflict)
	}
	if b.Start < a.Start {
		a, b = b, a
	}
	// Neighbours: no other segment of the speaker starts between them.
	var between int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM segments WHERE meeting_id = ? AND speaker_id = ? AND id NOT IN (?, ?) AND start_s >= ? AND start_s <= ?`,
		meetingID, a.SpeakerID, a.ID, b.ID, a.Start, b.Start).Scan(&between); err != nil {
		return before, after, err
	}
	if between > 0 {
		return before, after, fmt.Errorf("%w: the segments are not next to each other", ErrConflict)
	}
	merged := a
	merged.End = max(a.End, b.End)
	merged.Text = strings.TrimSpace(a.Text + " " + b.Text)
	if len(merged.Text) > MaxSegmentText {
		return before, after, fmt.Errorf("%w: the merged text would pass %d bytes", ErrConflict, MaxSegmentText)
	}
	merged.Words = append(append([]transcript.Word{}, a.Words...), b.Words...)
	if err := updateSegment(ctx, db, merged); err != nil {
		return before, after, err
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM segments WHERE id = ?`, b.ID); err != nil {
		return before, after, err
	}
	return editState{Segments: []transcript.Segment{a, b}}, editState{Segments: []transcript.Segment{merged}}, nil
}

func splitSegment(ctx context.Context, db *dbTx, meetingID string, req EditRequest) (before, after editState, err error) {
	seg, err := segmentByID(ctx, db, meetingID, req.SegmentID)
	if err != nil {
		return before, after, err
	}
	runes := []rune(seg.Text)
	if req.At <= 0 || req.At >= len(runes) {
		return before, after, fmt.Errorf("%w: split at %d: inside the text (1 to %d)", ErrInvalid, req.At, len(runes)-1)
	}
	left := strings.TrimSpace(string(runes[:req.At]))
	right := strings.TrimSpace(string(runes[req.At:]))
	if left == "" || right == "" {
		return before, after, fmt.Errorf("%w: a split leaves text on both sides", ErrInvalid)
	}
	// The cut's time: from the words when they still match the text,
	// else in proportion to the characters.
	nLeft := len(strings.Fields(left))
	cut := seg.Start + (seg.End-seg.Start)*float64(len([]rune(left)))/float64(len(runes))
	var wl, wr []transcript.Word
	between := unicode.IsSpace(runes[req.At-1]) || unicode.IsSpace(runes[req.At])
	if between && len(seg.Words) == len(strings.Fields(seg.Text)) && nLeft < len(seg.Words) {
		wl, wr = seg.Words[:nLeft], seg.Words[nLeft:]
		cut = wr[0].Start
	} else {
		wl, wr = spreadWords(left, seg.Start, cut), spreadWords(right, cut, seg.End)
	}
	first, second := seg, seg
	first.Text, first.End, first.Words = left, cut, wl
	second.Text, second.Start, second.Words = right, cut, wr
	if err := updateSegment(ctx, db, first); err != nil {
		return before, after, err
	}
	second.ID, err = insertSegment(ctx, db, meetingID, second)
	if err != nil {
		return before, after, err
	}
	return editState{Segments: []transcript.Segment{seg}}, editState{Segments: []transcript.Segment{first, second}}, nil
}

// undoLast reverts the latest edit not undone (undos are not undone in
// turn: the history shows both). Its segments must still be as the edit
// left them.
func undoLast(ctx context.Context, db *dbTx, meetingID string) (before, after editState, undoes int64, err error) {
	var bj, aj string
	err = db.QueryRowContext(ctx, `SELECT id, before, after FROM edits WHERE meeting_id = ? AND kind != ? AND undone = 0 ORDER BY id DESC LIMIT 1`,
		meetingID, EditUndo).Scan(&undoes, &bj, &aj)
	if errors.Is(err, sql.ErrNoRows) {
		return before, after, 0, fmt.Errorf("%w: nothing to undo", ErrConflict)
	}
	if err != nil {
		return before, after, 0, err
	}
	var was, now editState
	if err := json.Unmarshal([]byte(bj), &was); err != nil {
		return before, after, 0, err
	}
	if err := json.Unmarshal([]byte(aj), &now); err != nil {
		return before, after, 0, err
	}
	if was.Speaker != nil {
		if err := setSpeakerName(ctx, db, meetingID, was.Speaker.ID, was.Speaker.Name); err != nil {
			return before, after, 0, err
		}
		return now, was, undoes, nil
	}
	for _, seg := range now.Segments {
		cur, err := segmentByID(ctx, db, meetingID, seg.ID)
		if err != nil || cur.Text != seg.Text || cur.Start != seg.Start || cur.End != seg.End {
			return before, after, 0, fmt.Errorf("%w: the transcript changed since (segment %d)", ErrConflict, seg.ID)
		}
		if _, err := db.ExecContext(ctx, `DELETE FROM segments WHERE id = ?`, seg.ID); err != nil {
			return before, after, 0, err
		}
	}
	for _, seg := range was.Segments {
		if err := insertSegmentWithID(ctx, db, meetingID, seg); err != nil {
			return before, after, 0, err
		}
	}
	return now, was, undoes, nil
}
