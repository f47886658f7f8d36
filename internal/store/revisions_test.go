package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/transcript"
)

// TestRevisions: a revision keeps the segments as they were when it was
// saved, in the same transaction as what replaces them; it is listed,
// read back as a transcript, and deleted with its meeting.
func TestRevisions(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		ctx := context.Background()
		s := reopen()
		s.CreateMeeting(ctx, transcript.Meeting{ID: "MT_rev", Title: "r", Started: time.Now()})
		s.AppendSegment(ctx, "MT_rev", transcript.Segment{SpeakerID: "PA_a", Speaker: "Ada", Start: 1, End: 2, Text: "live words"})
		s.AppendSegment(ctx, "MT_rev", transcript.Segment{SpeakerID: "PA_b", Speaker: "Bob", Start: 3, End: 4, Text: "bob kept"})
		err := s.InTx(ctx, func(tx *Tx) error {
			if n, err := tx.SaveRevision("MT_rev", "live"); err != nil || n != 1 {
				t.Fatalf("revision %d: %v", n, err)
			}
			return tx.ReplaceSegments("MT_rev", "PA_a", 0, 10, []transcript.Segment{{SpeakerID: "PA_a", Speaker: "Ada", Start: 1, End: 2, Text: "final words"}})
		})
		if err != nil {
			t.Fatal(err)
		}
		revs, err := s.Revisions(ctx, "MT_rev")
		if err != nil || len(revs) != 1 || revs[0].N != 1 || revs[0].Label != "live" || revs[0].Segments != 2 || revs[0].Created.IsZero() {
			t.Fatalf("revisions: %+v %v", revs, err)
		}
		old, err := s.RevisionTranscript(ctx, "MT_rev", 1)
		if err != nil || len(old.Segments) != 2 || old.Segments[0].Text != "live words" {
			t.Fatalf("revision 1: %+v %v", old, err)
		}
		now, _ := s.Transcript(ctx, "MT_rev")
		if now.Segments[0].Text != "final words" || now.Segments[1].Text != "bob kept" {
			t.Errorf("current: %+v", now.Segments)
		}
		if _, err := s.RevisionTranscript(ctx, "MT_rev", 2); !errors.Is(err, ErrNotFound) {
			t.Errorf("revision 2: %v", err)
		}
		if _, err := s.DeleteMeeting(ctx, "MT_rev"); err != nil {
			t.Fatalf("delete with a revision: %v", err)
		}
		if _, err := s.Revisions(ctx, "MT_rev"); !errors.Is(err, ErrNotFound) {
			t.Errorf("revisions after delete: %v", err)
		}
		var n int
		s.db.QueryRowContext(ctx, `SELECT count(*) FROM revisions`).Scan(&n)
		if n != 0 {
			t.Errorf("%d revision rows left", n)
		}
	})
}
