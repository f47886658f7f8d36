package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/record"
	"github.com/parleyhq/parley/internal/testkit/client"
)

// TestServerKilledMidRecording runs `parley serve`, records a participant's
// microphone and camera, kills the server with SIGKILL mid-recording and
// starts it again on the same data directory: the finalize job closes the
// recording (manifest complete, marked interrupted), and every file reads
// cleanly to within 5 s of the kill.
func TestServerKilledMidRecording(t *testing.T) {
	pkts := bridgePackets(t)
	dataDir := t.TempDir()
	cmd, base := startServe(t, dataDir, "-1", 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ada, err := client.Connect(ctx, base, client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ada.Drop()
	joined, err := ada.Join(ctx, "crash-recording-room", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	var started struct {
		MeetingStarted time.Time `json:"meeting_started"`
	}
	json.Unmarshal(joined.Raw, &started)
	ada.Send(map[string]any{"type": "recording", "enabled": true})
	if _, err := ada.WaitFor(ctx, func(m client.Message) bool { return m.Type == "recording" }); err != nil {
		t.Fatal(err)
	}
	if _, err := ada.PublishAudio(ctx, client.AudioOptions{Packets: pkts, Loop: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := ada.PublishVideo(ctx, client.VideoOptions{Simulcast: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Since(started.MeetingStarted).Seconds()
	cmd.Wait()

	st := objects.Disk{Dir: filepath.Join(dataDir, "recordings")}
	if man, err := record.ReadManifest(st, joined.MeetingID); err != nil || man.Complete {
		t.Fatalf("before the restart the manifest should be there and open: %v", err)
	}
	startServe(t, dataDir, "-1", 20*time.Second)
	var man *record.Manifest
	deadline := time.Now().Add(20 * time.Second)
	for {
		man, err = record.ReadManifest(st, joined.MeetingID)
		if err == nil && man.Complete {
			break
		}
		if time.Now().After(deadline) {
			out, _ := parley("jobs", "--data-dir", dataDir, "list").CombinedOutput()
			t.Fatalf("the finalize job did not close the recording: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !man.Interrupted || len(man.Files) != 2 {
		t.Fatalf("manifest after the restart: %+v", man)
	}
	for _, f := range man.Files {
		path := filepath.Join(st.Dir, man.MeetingID, f.Name)
		var kept float64
		switch f.Format {
		case "ogg":
			pcm, _, err := audiofile.ReadAll(path)
			if err != nil {
				t.Fatalf("%s does not read after the crash: %v", f.Name, err)
			}
			kept = float64(len(pcm)) / audiofile.Rate
		case "ivf":
			frames, _, err := client.LoadIVF(path)
			if err != nil || len(frames) == 0 {
				t.Fatalf("%s does not read after the crash: %d frames, %v", f.Name, len(frames), err)
			}
			kept = f.End - f.Start
		}
		lost := killedAt - (f.Start + kept)
		t.Logf("%s: %.2f s kept from %.2f s, the kill at %.2f s: %.2f s lost", f.Name, kept, f.Start, killedAt, lost)
		if lost > 5 {
			t.Errorf("%s lost %.2f s (at most 5 s)", f.Name, lost)
		}
		if d := f.End - f.Start - kept; d > 0.1 || d < -0.1 {
			t.Errorf("%s: the manifest says %.2f s, the file holds %.2f s", f.Name, f.End-f.Start, kept)
		}
	}
}
