package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/testkit/client"
)

// TestServerKilledMidMeetingLosesNoSegment runs `parley serve` as a child
// process, lets one participant speak with transcription on, kills the
// server with SIGKILL mid-meeting, reopens its store and finds every
// segment whose final caption had been sent.
func TestServerKilledMidMeetingLosesNoSegment(t *testing.T) {
	pkts := bridgePackets(t)
	dataDir := t.TempDir()
	cmd, base := startServe(t, dataDir, "-1", 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	obs, err := client.Connect(ctx, base, client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Drop()
	joined, err := obs.Join(ctx, "crash-room", "Observer")
	if err != nil {
		t.Fatal(err)
	}
	meetingID := joined.MeetingID
	obs.Send(map[string]any{"type": "transcription", "enabled": true})
	spk, err := client.Connect(ctx, base, client.Options{SendOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer spk.Drop()
	if _, err := spk.Join(ctx, "crash-room", "bridge"); err != nil {
		t.Fatal(err)
	}
	if _, err := spk.PublishAudio(ctx, client.AudioOptions{Packets: pkts}); err != nil {
		t.Fatal(err)
	}
	finals := func() []string { return finalCaptions(obs) }
	for len(finals()) < 3 {
		if ctx.Err() != nil {
			t.Fatal("no final captions")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Kill while the next utterance is being spoken.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	sent := finals()
	db, err := store.OpenSQLite(ctx, dataDir)
	if err != nil {
		t.Fatalf("reopen the store after the crash: %v", err)
	}
	defer db.Close()
	segs, err := db.Segments(ctx, meetingID)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, s := range segs {
		stored[s.Text] = true
	}
	for _, text := range sent {
		if !stored[text] {
			t.Errorf("final caption %q was sent but its segment is not in the store", text)
		}
	}
	t.Logf("%d final captions sent before the kill, %d segments in the reopened store", len(sent), len(segs))
}
