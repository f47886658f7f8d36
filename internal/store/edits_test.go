package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/transcript"
)

// lines renders a transcript as "speaker: text" lines, for comparisons.
func lines(t *testing.T, s *DB, id string) string {
	t.Helper()
	tr, err := s.Transcript(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var b []string
	for _, sp := range tr.Speakers {
		b = append(b, "["+sp.ID+"="+sp.Name+"]")
	}
	for _, seg := range tr.Segments {
		b = append(b, seg.Speaker+": "+seg.Text)
	}
	return strings.Join(b, "\n")
}

// TestEditsAndUndo: a speaker renamed everywhere at once, a text edited,
// two segments merged, one split — each in the history with before and
// after — then undone one by one back to the original, with search
// following every step.
func TestEditsAndUndo(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		ctx := context.Background()
		s := reopen()
		const id = "MT_edit"
		s.CreateMeeting(ctx, transcript.Meeting{ID: id, Started: time.Now()})
		s.GrantMeeting(ctx, Grant{MeetingID: id, RoomID: "r", Subject: "u", KeyHash: "k", Role: "owner"})
		s.PutSpeaker(ctx, id, transcript.Speaker{ID: "S1", Name: "SPEAKER_1"})
		s.PutSpeaker(ctx, id, transcript.Speaker{ID: "S2", Name: "SPEAKER_2"})
		var ids []int64
		for i, l := range []string{"S1:hello every one", "S2:the budget is late", "S2:by two weeks", "S1:thank you"} {
			spk, text, _ := strings.Cut(l, ":")
			words := []transcript.Word{}
			for j, w := range strings.Fields(text) {
				words = append(words, transcript.Word{Word: w, Start: float64(10*i + j), End: float64(10*i + j + 1)})
			}
			n, err := s.AppendSegment(ctx, id, transcript.Segment{SpeakerID: spk, Speaker: "SPEAKER_" + spk[1:], Start: float64(10 * i), End: float64(10*i + len(words)), Text: text, Words: words})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, n)
		}
		s.AppendEvent(ctx, id, transcript.Event{At: 5, Kind: transcript.OptOut, SpeakerID: "S2", Speaker: "SPEAKER_2"})
		original := lines(t, s, id)
		found := func(q string) int {
			hits, err := s.Search(ctx, SearchQuery{Text: q, KeyHashes: []string{"k"}})
			if err != nil {
				t.Fatal(err)
			}
			return len(hits)
		}

		steps := []struct {
			req  EditRequest
			want string
		}{
			{EditRequest{Kind: EditRename, SpeakerID: "S2", Name: "  Claire   Dubois "},
				"[S1=SPEAKER_1]\n[S2=Claire Dubois]\nSPEAKER_1: hello every one\nClaire Dubois: the budget is late\nClaire Dubois: by two weeks\nSPEAKER_1: thank you"},
			{EditRequest{Kind: EditText, SegmentID: ids[0], Text: "hello everyone"},
				"[S1=SPEAKER_1]\n[S2=Claire Dubois]\nSPEAKER_1: hello everyone\nClaire Dubois: the budget is late\nClaire Dubois: by two weeks\nSPEAKER_1: thank you"},
			{EditRequest{Kind: EditMerge, SegmentID: ids[1], With: ids[2]},
				"[S1=SPEAKER_1]\n[S2=Claire Dubois]\nSPEAKER_1: hello everyone\nClaire Dubois: the budget is late by two weeks\nSPEAKER_1: thank you"},
			{EditRequest{Kind: EditSplit, SegmentID: ids[1], At: len("the budget is late ")},
				"[S1=SPEAKER_1]\n[S2=Claire Dubois]\nSPEAKER_1: hello everyone\nClaire Dubois: the budget is late\nClaire Dubois: by two weeks\nSPEAKER_1: thank you"},
		}
		for i, st := range steps {
			rec, err := s.Edit(ctx, id, "u", "Ada", st.req)
			if err != nil {
				t.Fatalf("step %d %s: %v", i, st.req.Kind, err)
			}
			if rec.ID == 0 || rec.Kind != st.req.Kind || rec.Name != "Ada" || len(rec.Before) < 5 || len(rec.After) < 5 {
				t.Errorf("record %+v", rec)
			}
			if got := lines(t, s, id); got != st.want {
				t.Fatalf("after %s:\n%s\nwant\n%s", st.req.Kind, got, st.want)
			}
		}
		if found("everyone") != 1 || found("every one") != 0 {
			t.Error("search does not follow the edited text")
		}
		tr, _ := s.Transcript(ctx, id)
		if tr.Events[0].Speaker != "Claire Dubois" {
			t.Errorf("the opt-out event still names %q", tr.Events[0].Speaker)
		}
		// The split kept the recogniser's word times: the cut is at "by".
		if seg := tr.Segments[2]; seg.Start != 20 || seg.Words[0].Word != "by" || seg.Words[0].Start != 20 || tr.Segments[1].End != 20 {
			t.Errorf("split at %v: %+v / %+v", seg.Start, tr.Segments[1], seg)
		}
		// An edited text's words spread over its segment.
		if w := tr.Segments[0].Words; len(w) != 2 || w[0].Word != "hello" || w[0].Start != 0 || w[1].End != 3 {
			t.Errorf("edited words %+v", w)
		}

		// Refusals change nothing.
		for _, bad := range []struct {
			req  EditRequest
			want error
		}{
			{EditRequest{Kind: EditText, SegmentID: ids[0], Text: "  "}, ErrInvalid},
			{EditRequest{Kind: EditText, SegmentID: ids[0], Text: "evil \u202e text"}, ErrInvalid},
			{EditRequest{Kind: EditText, SegmentID: ids[0], Text: "nul \x00"}, ErrInvalid},
			{EditRequest{Kind: EditText, SegmentID: ids[0], Text: strings.Repeat("x", MaxSegmentText+1)}, ErrInvalid},
			{EditRequest{Kind: EditText, SegmentID: 999999, Text: "x"}, ErrNotFound},
			{EditRequest{Kind: EditRename, SpeakerID: "S9", Name: "Eve"}, ErrNotFound},
			{EditRequest{Kind: EditRename, SpeakerID: "S1", Name: "\u200b"}, ErrInvalid},
			{EditRequest{Kind: EditMerge, SegmentID: ids[0], With: ids[1]}, ErrConflict}, // two speakers
			{EditRequest{Kind: EditMerge, SegmentID: ids[0], With: ids[0]}, ErrConflict},
			{EditRequest{Kind: EditSplit, SegmentID: ids[3], At: 0}, ErrInvalid},
			{EditRequest{Kind: EditSplit, SegmentID: ids[3], At: 99}, ErrInvalid},
			{EditRequest{Kind: "drop_table"}, ErrInvalid},
		} {
			before := lines(t, s, id)
			if _, err := s.Edit(ctx, id, "u", "Ada", bad.req); !errors.Is(err, bad.want) {
				t.Errorf("%+v: %v, want %v", bad.req, err, bad.want)
			}
			if got := lines(t, s, id); got != before {
				t.Errorf("%+v changed the transcript:\n%s", bad.req, got)
			}
		}

		// Undo everything, newest first.
		for range steps {
			if _, err := s.Edit(ctx, id, "u", "Bob", EditRequest{Kind: EditUndo}); err != nil {
				t.Fatal(err)
			}
		}
		if got := lines(t, s, id); got != original {
			t.Fatalf("after undoing everything:\n%s\nwant\n%s", got, original)
		}
		if found("every one") != 1 || found("everyone") != 0 {
			t.Error("search does not follow the undo")
		}
		if _, err := s.Edit(ctx, id, "u", "Bob", EditRequest{Kind: EditUndo}); !errors.Is(err, ErrConflict) {
			t.Errorf("undo with nothing left: %v", err)
		}
		hist, err := s.Edits(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		undone, undos := 0, 0
		for _, e := range hist {
			if e.Undone {
				undone++
			}
			if e.Kind == EditUndo {
				undos++
			}
		}
		if undone != undos || undos < 4 || hist[0].Kind != EditRename || !json.Valid(hist[0].Before) ||
			!strings.Contains(string(hist[0].Before), "SPEAKER_2") || !strings.Contains(string(hist[0].After), "Claire Dubois") {
			t.Errorf("history: %d undone, %d undos, first %+v", undone, undos, hist[0])
		}
		if _, err := s.DeleteMeeting(ctx, id); err != nil {
			t.Fatalf("a meeting with a history is not deleted: %v", err)
		}
		if h, _ := s.Edits(ctx, id); len(h) != 0 {
			t.Errorf("history left after deletion: %d rows", len(h))
		}
	})
}
