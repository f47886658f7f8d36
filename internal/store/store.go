// Package store persists meetings and their transcripts behind one small
// API. SQLite (pure Go, modernc.org/sqlite) is the single-node default;
// PostgreSQL (pgx) serves several nodes. Both run the same SQL but for a
// few statements (JSON functions, search, the job claim), and the same
// tests.
//
// Durability: every Append* call is its own committed transaction before it
// returns, so a crash loses nothing that a caller was told was stored.
package store

import (
	"context"
	"errors"

	"github.com/parleyhq/parley/internal/transcript"
)

var (
	// ErrNotFound means the meeting does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrInvalid reports a value the store refuses (empty id, NaN time).
	ErrInvalid = errors.New("store: invalid value")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("store: closed")
)

// Store is the persistence API. Implementations are safe for concurrent use.
type Store interface {
	// CreateMeeting records a meeting; creating an existing id updates its
	// title and start time.
	CreateMeeting(ctx context.Context, m transcript.Meeting) error
	// Meeting returns one meeting or ErrNotFound.
	Meeting(ctx context.Context, id string) (transcript.Meeting, error)
	// PutSpeaker records (or renames) a speaker of a meeting.
	PutSpeaker(ctx context.Context, meetingID string, s transcript.Speaker) error
	// AppendSegment commits one final segment and returns its id.
	AppendSegment(ctx context.Context, meetingID string, seg transcript.Segment) (int64, error)
	// ReplaceSegments swaps, in one transaction, a speaker's segments that
	// start in [from, to) for segs: diarization relabels a shared
	// microphone's segments after the meeting without a window in which
	// the transcript lacks them.
	ReplaceSegments(ctx context.Context, meetingID, speakerID string, from, to float64, segs []transcript.Segment) error
	// AppendEvent commits one control event (transcription on/off, opt-out).
	AppendEvent(ctx context.Context, meetingID string, e transcript.Event) error
	// Segments lists a meeting's segments on the timeline (by start).
	Segments(ctx context.Context, meetingID string) ([]transcript.Segment, error)
	// Transcript assembles the whole transcript of a meeting.
	Transcript(ctx context.Context, meetingID string) (*transcript.Transcript, error)
	// Close releases the store.
	Close() error
}
