package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/record"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/transcript"
)

// TestRetentionDeletesWhatIsDue: with a clock moved forward, the daily
// job deletes the meetings past their retention (rows and spool files)
// and writes an audit row without their content; the others stay. The
// job is scheduled once a day however often Schedule is called.
func TestRetentionDeletesWhatIsDue(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	ctx := context.Background()
	day := 24 * time.Hour
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	spool := filepath.Join(dir, "spool")
	s.CreateRoom(ctx, store.Room{ID: "retention-room", Owner: "oidc:ann", Created: now})
	for i, id := range []string{"MT_first", "MT_second"} {
		s.CreateMeeting(ctx, transcript.Meeting{ID: id, Started: now.Add(time.Duration(i) * 10 * day)})
		s.GrantMeeting(ctx, store.Grant{MeetingID: id, RoomID: "retention-room", Subject: "oidc:ann", KeyHash: "k" + id, Role: "owner"})
		s.AppendSegment(ctx, id, transcript.Segment{SpeakerID: "PA_1", Speaker: "Ann", Start: 1, End: 2, Text: "the secret budget figure"})
		os.MkdirAll(filepath.Join(spool, id), 0o700)
		os.WriteFile(filepath.Join(spool, id, "TR_1-1.pcm"), make([]byte, 640), 0o600)
	}
	ret := &Retention{Deleter: &Deleter{Store: s, SpoolDir: spool}, Default: 7 * day, Now: clock}
	r := &Runner{Queue: s, Owner: "w", Handlers: map[string]Handler{KindRetention: ret.Handler()}, Now: clock}
	runDay := func() {
		t.Helper()
		for range 3 {
			if err := ret.Schedule(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if ran, err := r.RunOne(ctx, []string{KindRetention}); !ran || err != nil {
			t.Fatalf("retention job: ran %v, %v", ran, err)
		}
		if ran, _ := r.RunOne(ctx, []string{KindRetention}); ran {
			t.Fatal("a second retention job the same day")
		}
	}
	exists := func(id string) bool {
		_, err := s.Transcript(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		_, ferr := os.Stat(filepath.Join(spool, id))
		if (err == nil) != (ferr == nil) {
			t.Fatalf("%s: rows %v but files %v", id, err, ferr)
		}
		return err == nil
	}

	now = now.Add(6 * day) // nothing due yet
	runDay()
	if !exists("MT_first") || !exists("MT_second") {
		t.Fatal("a meeting was deleted before its time")
	}
	now = now.Add(2 * day) // day 8: the first is due, the second (day 10) not
	runDay()
	if exists("MT_first") || !exists("MT_second") {
		t.Fatalf("day 8: first kept %v, second kept %v", exists("MT_first"), exists("MT_second"))
	}
	log, _ := s.AuditLog(ctx, "retention-room", 10)
	if len(log) != 1 || log[0].Action != "meeting_deleted" || log[0].Name != "retention" ||
		!strings.Contains(log[0].Detail, "MT_first") || !strings.Contains(log[0].Detail, "segments=1") || !strings.Contains(log[0].Detail, "files=1") ||
		strings.Contains(log[0].Detail, "budget") {
		t.Fatalf("audit: %+v", log)
	}
	now = now.Add(10 * day)
	runDay()
	if exists("MT_second") {
		t.Fatal("the second meeting outlived its retention")
	}
	if counts, _ := s.JobCounts(ctx); len(counts) != 1 || counts[0].N != 3 || counts[0].State != store.JobDone {
		t.Fatalf("jobs: %+v, want 3 retention jobs done", counts)
	}
}

// TestDeleterRefusesOddIDs: an id that is not one the server makes is
// refused before anything is touched (it could name a path).
func TestDeleterRefusesOddIDs(t *testing.T) {
	dir := t.TempDir()
	d := &Deleter{Store: openStore(t, dir), SpoolDir: filepath.Join(dir, "spool")}
	os.MkdirAll(filepath.Join(dir, "keep"), 0o700)
	for _, id := range []string{"", "MT_", "../keep", "MT_../../keep", "MT_a/b", "XX_abc", "MT_" + strings.Repeat("a", 80)} {
		if _, err := d.Delete(context.Background(), id, store.AuditEntry{}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%q: %v", id, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "keep")); err != nil {
		t.Fatal(err)
	}
}

// TestRecordingRetention: with --retain-recordings, a meeting's recording
// files go once their time is up (the clock moved), its transcript stays;
// a recording still being made is left alone; a meeting deleted whole
// takes its recording with it.
func TestRecordingRetention(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	ctx := context.Background()
	day := 24 * time.Hour
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	disk := objects.Disk{Dir: filepath.Join(dir, "recordings")}
	active := map[string]bool{"MT_live": true}
	recs := &Recordings{Objects: disk, Active: func(id string) bool { return active[id] }}
	for i, id := range []string{"MT_old", "MT_new", "MT_live", "MT_gone"} {
		started := now.Add(-time.Duration(10-3*i) * day) // 10, 7, 4, 1 days ago
		if id == "MT_live" {
			started = now.Add(-30 * day)
		}
		s.CreateMeeting(ctx, transcript.Meeting{ID: id, Started: started})
		s.AppendSegment(ctx, id, transcript.Segment{SpeakerID: "PA_1", Speaker: "Ann", Start: 1, End: 2, Text: "kept words"})
		b, _ := json.Marshal(record.Manifest{Version: 1, MeetingID: id, Started: started, Complete: id != "MT_live"})
		disk.Put(record.ManifestKey(id), b)
		w, _ := disk.Create(id + "/P1-microphone-1.ogg")
		w.Write([]byte("OggS"))
		w.Close()
	}
	// Rooms' own: one keeps recordings 20 days, one 1 day.
	for id, days := range map[string]int{"long-keeping-room": 20, "short-keeping-room": 1} {
		s.CreateRoom(ctx, store.Room{ID: id, Owner: "oidc:ann", RetainRecordingDays: days, Created: now})
	}
	for id, m := range map[string]struct {
		room string
		ago  time.Duration
	}{"MT_roomlong": {"long-keeping-room", 10 * day}, "MT_roomshort": {"short-keeping-room", 2 * day}} {
		b, _ := json.Marshal(record.Manifest{Version: 1, MeetingID: id, Room: m.room, Started: now.Add(-m.ago), Complete: true})
		disk.Put(record.ManifestKey(id), b)
	}
	recs.Store = s
	ret := &Retention{Deleter: &Deleter{Store: s, Recordings: disk}, Recordings: recs, RecordingsKept: 5 * day,
		Now: func() time.Time { return now }}
	if _, err := ret.Handler()(ctx, store.Job{}); err != nil {
		t.Fatal(err)
	}
	has := func(id string) bool { l, _ := disk.List(id); return len(l) > 0 }
	if has("MT_old") || has("MT_new") {
		t.Error("recordings past 5 days are still there")
	}
	if !has("MT_live") || !has("MT_gone") {
		t.Error("a recording in progress, or a young one, was deleted")
	}
	if !has("MT_roomlong") || has("MT_roomshort") {
		t.Errorf("rooms' own retention: 20 days kept %t (want true), 1 day kept %t (want false)", has("MT_roomlong"), has("MT_roomshort"))
	}
	if _, err := s.Transcript(ctx, "MT_old"); err != nil {
		t.Errorf("the transcript went with the recording: %v", err)
	}
	if _, err := ret.Deleter.Delete(ctx, "MT_gone", store.AuditEntry{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	if has("MT_gone") {
		t.Error("a deleted meeting's recording is still there")
	}
}

// twoStepReplace is a Disk whose conditional write checks, then writes
// (as the S3 test server's file-system backend does): checked is closed
// between the two, and the write waits for release.
type twoStepReplace struct {
	objects.Disk
	checked, release chan struct{}
}

func (d twoStepReplace) Replace(key string, data []byte) error {
	if l, err := d.List(strings.TrimSuffix(key, "/manifest.json")); err != nil || len(l) == 0 {
		return objects.ErrNotFound
	}
	close(d.checked)
	<-d.release
	return d.Put(key, data)
}

// TestDeleteWaitsForAFinalize: a meeting deleted while its recording is
// being finalized stays deleted — the deletion waits for the finalize to
// be done writing (CI, 2026-12-07: the manifest was back after a delete).
func TestDeleteWaitsForAFinalize(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	ctx := context.Background()
	disk := twoStepReplace{Disk: objects.Disk{Dir: filepath.Join(dir, "recordings")}, checked: make(chan struct{}), release: make(chan struct{})}
	const id = "MT_racing"
	s.CreateMeeting(ctx, transcript.Meeting{ID: id, Started: time.Now()})
	b, _ := json.Marshal(record.Manifest{Version: 1, MeetingID: id, Started: time.Now(), Complete: true})
	disk.Put(record.ManifestKey(id), b)
	locks := &MeetingLocks{}
	recs := &Recordings{Objects: disk, Locks: locks}
	del := &Deleter{Store: s, Recordings: disk, Locks: locks}
	payload, _ := json.Marshal(recordingPayload{MeetingID: id})
	finalized := make(chan error, 1)
	go func() {
		_, err := recs.Handler()(ctx, store.Job{Payload: payload})
		finalized <- err
	}()
	<-disk.checked
	deleted := make(chan error, 1)
	go func() {
		_, err := del.Delete(ctx, id, store.AuditEntry{Name: "test"})
		deleted <- err
	}()
	// Give the delete time to run, then let the finalize write.
	early := false
	select {
	case err := <-deleted:
		t.Errorf("the delete finished while the finalize was writing (%v)", err)
		early = true
	case <-time.After(300 * time.Millisecond):
	}
	close(disk.release)
	if err := <-finalized; err != nil {
		t.Fatal(err)
	}
	if !early {
		select {
		case err := <-deleted:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the delete never finished")
		}
	}
	if l, _ := disk.List(id); len(l) != 0 {
		t.Errorf("the deleted meeting's recording is back: %+v", l)
	}
	if _, err := s.Transcript(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the deleted meeting's transcript: %v", err)
	}
}
