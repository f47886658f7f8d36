package server

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/transcript"
)

// TestEditOverHTTP: the meeting's owner corrects its transcript once it
// has ended — the rename shows in every export and the history, undo
// brings it back; a participant may read but not edit; an outsider gets
// the 404 of a meeting that does not exist.
func TestEditOverHTTP(t *testing.T) {
	srv := start(t)
	ctx := context.Background()
	ada, joined := joinAs(t, srv, "edit-test-room", "Ada")
	bob, bobJoined := joinAs(t, srv, "edit-test-room", "Bob")
	id := joined.MeetingID
	if err := srv.Store.CreateMeeting(ctx, transcript.Meeting{ID: id, Title: "edit-test-room", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv.Store.PutSpeaker(ctx, id, transcript.Speaker{ID: "SPK_2", Name: "SPEAKER_2"})
	segID, _ := srv.Store.AppendSegment(ctx, id, transcript.Segment{SpeakerID: "SPK_2", Speaker: "SPEAKER_2", Start: 1, End: 3, Text: "the budget is late"})
	do := func(method, key, body string) (int, map[string]any) {
		return apiCall(t, srv, method, "/api/meetings/"+id+"/edits", key, body)
	}
	rename := `{"kind":"rename_speaker","speaker_id":"SPK_2","name":"Claire Dubois"}`
	if code, out := do("POST", joined.MeetingKey, rename); code != http.StatusConflict || out["name"] != "meeting_in_progress" {
		t.Fatalf("edit during the meeting: %d %v", code, out)
	}
	ada.Close()
	bob.Close()
	waitUntil(t, 10*time.Second, "the meeting to end", func() bool { _, live := srv.Rooms.Room("edit-test-room"); return !live })

	if code, out := do("POST", bobJoined.MeetingKey, rename); code != http.StatusForbidden || out["name"] != "not_allowed" {
		t.Errorf("a participant edits: %d %v", code, out)
	}
	if code, out := do("GET", bobJoined.MeetingKey, ""); code != 200 || out["may_edit"] != false {
		t.Errorf("a participant reads the history: %d %v", code, out)
	}
	_, outsider := do("POST", "not-a-key", rename)
	if code, out := do("GET", "not-a-key", ""); code != 404 || out["name"] != outsider["name"] {
		t.Errorf("an outsider: %d %v / %v", code, out, outsider)
	}
	if code, out := do("POST", joined.MeetingKey, rename); code != 200 {
		t.Fatalf("owner renames: %d %v", code, out)
	}
	export := func(format string) string {
		req, _ := http.NewRequest("GET", srv.URL()+"/api/meetings/"+id+"/transcript?format="+format, nil)
		req.Header.Set("Authorization", "Bearer "+joined.MeetingKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, f := range []string{"txt", "md", "vtt", "srt", "json", "rttm"} {
		if got := export(f); !strings.Contains(got, "Claire") || strings.Contains(got, "SPEAKER_2") {
			t.Errorf("%s export after the rename:\n%s", f, got)
		}
	}
	for _, c := range []struct {
		body string
		code int
		name string
	}{
		{`{"kind":"edit_text","segment_id":` + strconv.FormatInt(segID, 10) + `,"text":"the budget is on time"}`, 200, ""},
		{`{"kind":"edit_text","segment_id":` + strconv.FormatInt(segID, 10) + `,"text":"bad \u202e"}`, 400, "invalid_field"},
		{`{"kind":"edit_text","segment_id":999999,"text":"x"}`, 404, "not_found"},
		{`{"kind":"merge","segment_id":` + strconv.FormatInt(segID, 10) + `,"with":` + strconv.FormatInt(segID, 10) + `}`, 409, "edit_conflict"},
		{`{"kind":"edit_text","segment_id":1,"text":"x","extra":1}`, 400, "invalid_field"},
		{`not json`, 400, "invalid_field"},
		{`{"kind":"undo"}`, 200, ""},
		{`{"kind":"undo"}`, 200, ""},
		{`{"kind":"undo"}`, 409, "edit_conflict"},
	} {
		code, out := do("POST", joined.MeetingKey, c.body)
		if code != c.code || (c.name != "" && out["name"] != c.name) {
			t.Errorf("%s: %d %v, want %d %s", c.body, code, out, c.code, c.name)
		}
	}
	if got := export("txt"); !strings.Contains(got, "SPEAKER_2: the budget is late") {
		t.Errorf("after undoing both:\n%s", got)
	}
	_, hist := do("GET", joined.MeetingKey, "")
	if edits, _ := hist["edits"].([]any); len(edits) != 4 || hist["may_edit"] != true {
		t.Errorf("history %v", hist)
	}

	// The room's owner opens corrections to every participant.
	req, _ := http.NewRequest("PATCH", srv.URL()+"/api/rooms/edit-test-room/settings", strings.NewReader(
		`{"access":"public","transcription_by":"everyone","participants_edit":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Parley-CSRF", csrf)
	req.Header.Set("X-Parley-Creator", ada.CreatorToken)
	req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: csrf})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("settings: %d", resp.StatusCode)
	}
	if code, out := do("GET", bobJoined.MeetingKey, ""); code != 200 || out["may_edit"] != true {
		t.Errorf("a participant, corrections open: %d %v", code, out)
	}
	if code, out := do("POST", bobJoined.MeetingKey, `{"kind":"rename_speaker","speaker_id":"SPK_2","name":"Claire D."}`); code != 200 {
		t.Errorf("a participant renames, corrections open: %d %v", code, out)
	}
	if code, _ := do("POST", "not-a-key", rename); code != 404 {
		t.Errorf("an outsider, corrections open: %d", code)
	}
}
