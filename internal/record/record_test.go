package record

import (
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/room"
)

// TestPauseIsAGap: a recording stopped and started again in one meeting
// continues its manifest: two sessions, who started and stopped each,
// and a "pause" gap between them; the recorder says when it records and
// hands a recorded meeting's end to Ended (a meeting never recorded is
// not handed).
func TestPauseIsAGap(t *testing.T) {
	st := objects.Disk{Dir: t.TempDir()}
	var ended []string
	rc := New(Options{Objects: st, SyncEvery: 50 * time.Millisecond, Ended: func(id string) { ended = append(ended, id) }})
	info := room.MeetingInfo{ID: "MT_pause", Title: "pause-room", Started: time.Now().Add(-10 * time.Second)}
	ada := room.Speaker{ID: "PA_ada", Name: "Ada"}
	rec, err := rc.StartRecording(info, ada)
	if err != nil {
		t.Fatal(err)
	}
	if !rc.Recording("MT_pause") {
		t.Error("not recording")
	}
	time.Sleep(120 * time.Millisecond) // a sync of the manifest
	rec.End(ada)
	if rc.Recording("MT_pause") {
		t.Error("still recording after End")
	}
	time.Sleep(100 * time.Millisecond)
	rec, err = rc.StartRecording(info, room.Speaker{ID: "PA_bob", Name: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	rec.End(room.Speaker{})
	man, err := ReadManifest(st, "MT_pause")
	if err != nil {
		t.Fatal(err)
	}
	if !man.Complete || len(man.Sessions) != 2 || man.Sessions[0].By != "PA_ada" || man.Sessions[0].EndedBy != "PA_ada" ||
		man.Sessions[1].ByName != "Bob" || man.Sessions[1].End == nil {
		t.Fatalf("sessions: %+v", man.Sessions)
	}
	if len(man.Gaps) != 1 || man.Gaps[0].Reason != "pause" || man.Gaps[0].From != *man.Sessions[0].End || man.Gaps[0].To != man.Sessions[1].Start ||
		man.Gaps[0].To-man.Gaps[0].From < 0.09 {
		t.Fatalf("gaps: %+v", man.Gaps)
	}
	rc.MeetingEnded(info)
	rc.MeetingEnded(room.MeetingInfo{ID: "MT_never"})
	if len(ended) != 1 || ended[0] != "MT_pause" {
		t.Errorf("ended: %v", ended)
	}
	if _, err := rc.StartRecording(room.MeetingInfo{ID: "../escape"}, ada); !errors.Is(err, objects.ErrBadKey) {
		t.Errorf("a meeting id that is not a key: %v", err)
	}
}
