package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/transcript"
)

// TestDeleteMeetingAndRetention: a meeting is due when its room's own
// retention, or else the default, has run out since it started; deleting
// it removes every row the store holds of it (and nothing of another)
// and cancels its unfinished finalize job; who may delete it.
func TestDeleteMeetingAndRetention(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		ctx := context.Background()
		s := reopen()
		day := 24 * time.Hour
		t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
		s.CreateRoom(ctx, Room{ID: "default-room-id", Owner: "oidc:ann", Created: t0})
		s.CreateRoom(ctx, Room{ID: "short-room-id", Owner: "oidc:ann", RetainDays: 2, Created: t0})
		for _, m := range []struct {
			id, room string
			at       time.Time
		}{{"MT_old", "default-room-id", t0}, {"MT_new", "default-room-id", t0.Add(20 * day)}, {"MT_short", "short-room-id", t0.Add(18 * day)}} {
			if err := s.CreateMeeting(ctx, transcript.Meeting{ID: m.id, Started: m.at}); err != nil {
				t.Fatal(err)
			}
			s.GrantMeeting(ctx, Grant{MeetingID: m.id, RoomID: m.room, Subject: "oidc:bob", KeyHash: "k-" + m.id, Role: "participant"})
			s.GrantMeeting(ctx, Grant{MeetingID: m.id, RoomID: m.room, Subject: "open:mod", KeyHash: "m-" + m.id, Role: "moderator"})
			s.PutSpeaker(ctx, m.id, transcript.Speaker{ID: "PA_1", Name: "Bob"})
			s.AppendSegment(ctx, m.id, seg("PA_1", 1, "hello "+m.id))
			s.AppendEvent(ctx, m.id, transcript.Event{At: 0, Kind: transcript.TranscriptionOn, SpeakerID: "PA_1", Speaker: "Bob"})
		}
		s.CreateMeeting(ctx, transcript.Meeting{ID: "MT_nostart"})

		due := func(now time.Time, def time.Duration) []string {
			d, err := s.MeetingsDue(ctx, now, def)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range d {
				ids = append(ids, m.ID)
			}
			return ids
		}
		now := t0.Add(21 * day)
		if got := due(now, 0); len(got) != 1 || got[0] != "MT_short" {
			t.Errorf("no default: due %v, want the 2-day room's meeting only", got)
		}
		if got := due(now, 30*day); len(got) != 1 || got[0] != "MT_short" {
			t.Errorf("30-day default at day 21: due %v", got)
		}
		if got := due(now, 10*day); len(got) != 2 {
			t.Errorf("10-day default at day 21: due %v, want MT_old and MT_short", got)
		}
		if got := due(t0.Add(19*day+23*time.Hour), 0); len(got) != 0 {
			t.Errorf("before its 2 days passed: due %v", got)
		}

		// Who may delete: the room's owner, a moderator by key or subject;
		// not a participant, not a stranger, not with empty credentials.
		for _, c := range []struct {
			key, subject string
			want         bool
		}{{"", "oidc:ann", true}, {"m-MT_old", "", true}, {"", "open:mod", true}, {"k-MT_old", "", false}, {"", "oidc:bob", false}, {"", "oidc:eve", false}, {"", "", false}, {"m-MT_new", "", false}} {
			if room, ok, err := s.MayDelete(ctx, "MT_old", c.key, c.subject); err != nil || ok != c.want || ok && room != "default-room-id" {
				t.Errorf("may delete with key %q subject %q: %v %v, want %v", c.key, c.subject, ok, err, c.want)
			}
		}

		s.Enqueue(ctx, NewJob{Kind: "finalize_meeting", Key: "finalize:MT_old"})
		s.Enqueue(ctx, NewJob{Kind: "finalize_meeting", Key: "finalize:MT_new"})
		d, err := s.DeleteMeeting(ctx, "MT_old", "finalize:MT_old")
		if err != nil || d.RoomID != "default-room-id" || d.Segments != 1 || d.Events != 1 {
			t.Fatalf("delete: %+v, %v", d, err)
		}
		if _, err := s.Transcript(ctx, "MT_old"); !errors.Is(err, ErrNotFound) {
			t.Errorf("transcript after delete: %v", err)
		}
		for _, q := range []string{`SELECT count(*) FROM segments WHERE meeting_id = 'MT_old'`, `SELECT count(*) FROM events WHERE meeting_id = 'MT_old'`,
			`SELECT count(*) FROM speakers WHERE meeting_id = 'MT_old'`, `SELECT count(*) FROM meeting_access WHERE meeting_id = 'MT_old'`} {
			var n int
			if err := s.db.QueryRowContext(ctx, q).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s: %d, %v", q, n, err)
			}
		}
		if tr, err := s.Transcript(ctx, "MT_new"); err != nil || len(tr.Segments) != 1 {
			t.Errorf("another meeting was touched: %v", err)
		}
		jobs, _ := s.Jobs(ctx, "", 10)
		for _, j := range jobs {
			if want := map[string]string{"finalize:MT_old": JobCancelled, "finalize:MT_new": JobQueued}[j.Key]; j.State != want {
				t.Errorf("job %s is %s, want %s", j.Key, j.State, want)
			}
		}
		if _, err := s.DeleteMeeting(ctx, "MT_old"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		if _, ok, _ := s.MayDelete(ctx, "MT_old", "", "oidc:ann"); ok {
			t.Error("a deleted meeting may still be deleted")
		}
	})
}
