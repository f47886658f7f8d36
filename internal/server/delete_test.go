package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/jobs"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/transcript"
)

// TestDeleteMeeting: the meeting's owner deletes it once it has ended;
// while it runs the answer is 409; a participant and an outsider get the
// 404 of a meeting that does not exist. Deleting removes the transcript,
// the spooled audio and the pending finalize job, and leaves an audit
// row without the content.
func TestDeleteMeeting(t *testing.T) {
	srv := start(t)
	owner, joined := joinAs(t, srv, "delete-test-room", "Ada")
	bob, bobJoined := joinAs(t, srv, "delete-test-room", "Bob")
	ctx := context.Background()
	id := joined.MeetingID
	srv.Store.CreateMeeting(ctx, transcript.Meeting{ID: id, Title: "delete-test-room", Started: time.Now()})
	srv.Store.AppendSegment(ctx, id, transcript.Segment{SpeakerID: "PA_x", Speaker: "Ada", Start: 1, End: 2, Text: "the budget is secret"})
	spool := filepath.Join(srv.cfg.DataDir, "spool", id)
	os.MkdirAll(spool, 0o700)
	os.WriteFile(filepath.Join(spool, "TR_1-1.pcm"), make([]byte, 640), 0o600)
	srv.Store.Enqueue(ctx, store.NewJob{Kind: "finalize_never_run", Key: jobs.FinalizeKey(id)})

	del := func(path, key string) (int, string) {
		req, _ := http.NewRequest("DELETE", srv.URL()+path, nil)
		req.Header.Set("X-Parley-CSRF", csrf)
		req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: csrf})
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	path := "/api/meetings/" + id
	if code, body := del(path, joined.MeetingKey); code != http.StatusConflict || !strings.Contains(body, "meeting_in_progress") {
		t.Fatalf("delete during the meeting: %d %s", code, body)
	}
	owner.Close()
	bob.Close()
	waitUntil(t, 5*time.Second, "the room to close", func() bool { return srv.Rooms.Participants("delete-test-room") == 0 })

	_, none := del("/api/meetings/MT_doesnotexist00", joined.MeetingKey)
	for who, key := range map[string]string{"a participant": bobJoined.MeetingKey, "an outsider": "", "a wrong key": strings.Repeat("x", 43)} {
		if code, body := del(path, key); code != http.StatusNotFound || body != none {
			t.Errorf("%s: %d %s, want the 404 of a missing meeting (%s)", who, code, body, none)
		}
	}
	if _, err := srv.Store.Transcript(ctx, id); err != nil {
		t.Fatalf("the transcript went before the owner asked: %v", err)
	}
	if code, body := del(path, joined.MeetingKey); code != http.StatusNoContent {
		t.Fatalf("the owner's delete: %d %s", code, body)
	}
	if _, err := srv.Store.Transcript(ctx, id); err == nil {
		t.Error("the transcript is still there")
	}
	if _, err := os.Stat(spool); !os.IsNotExist(err) {
		t.Errorf("the spool is still there: %v", err)
	}
	if js, _ := srv.Store.Jobs(ctx, "", 10); len(js) == 0 || js[0].Key != jobs.FinalizeKey(id) || js[0].State != store.JobCancelled {
		t.Errorf("finalize job: %+v", js)
	}
	if code, _ := del(path, joined.MeetingKey); code != http.StatusNotFound {
		t.Errorf("a second delete: %d", code)
	}
	log, _ := srv.Store.AuditLog(ctx, "delete-test-room", 100)
	var row store.AuditEntry
	for _, e := range log {
		if e.Action == "meeting_deleted" {
			row = e
		}
	}
	b, _ := json.Marshal(log)
	if row.Action == "" || !strings.Contains(row.Detail, id) || !strings.Contains(row.Detail, "segments=1") || row.Addr != "127.0.0.1" || strings.Contains(string(b), "budget") {
		t.Fatalf("audit: %+v", log)
	}
}

// TestRoomRetentionSetting: the owner sets the room's own retention in
// its settings; out-of-range values are refused and change nothing.
func TestRoomRetentionSetting(t *testing.T) {
	srv := start(t)
	owner, _ := joinAs(t, srv, "retention-test-room", "Ada")
	owner.Header.Set("X-Parley-Creator", owner.CreatorToken)
	ctx := context.Background()
	var got struct {
		RetainDays          int `json:"retain_days"`
		RetainRecordingDays int `json:"retain_recording_days"`
	}
	if err := owner.API(ctx, "PATCH", "/api/rooms/retention-test-room/settings", map[string]any{"retain_days": 30, "retain_recording_days": 7}, &got); err != nil || got.RetainDays != 30 || got.RetainRecordingDays != 7 {
		t.Fatalf("set 30 and 7 days: %+v, %v", got, err)
	}
	for _, field := range []string{"retain_days", "retain_recording_days"} {
		for _, bad := range []any{-1, 100000, "30d", 1.5} {
			if err := owner.API(ctx, "PATCH", "/api/rooms/retention-test-room/settings", map[string]any{field: bad}, nil); apiCode(err) == 0 {
				t.Errorf("%s %v accepted", field, bad)
			}
		}
	}
	if rec, err := srv.Store.Room(ctx, "retention-test-room"); err != nil || rec.RetainDays != 30 || rec.RetainRecordingDays != 7 {
		t.Fatalf("stored: %+v, %v", rec, err)
	}
	log, _ := srv.Store.AuditLog(ctx, "retention-test-room", 10)
	if len(log) == 0 || log[0].Action != "settings" || !strings.Contains(log[0].Detail, "retain_days=30") || !strings.Contains(log[0].Detail, "retain_recording_days=7") {
		t.Fatalf("audit: %+v", log)
	}
}
