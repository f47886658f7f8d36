package server

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/devset"
)

// TestStalledRecogniserDropsAtTheTapOnly: the recognition server stops
// answering in the middle of a meeting. Forwarding goes on; the speech
// tap's queue (20 s of packets) fills and drops; the seconds the speech
// pipeline reports lost are exactly the packets the tap dropped (one
// queue, one counter), and the transcript says where audio was lost.
func TestStalledRecogniserDropsAtTheTapOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("plays 35 s of speech in real time")
	}
	m, err := devset.Get("dev-r-en-01")
	if err != nil {
		t.Fatal(err)
	}
	opus := encodeStems(t, m)
	pkts, err := client.LoadOggOpus(opus["david"])
	if err != nil {
		t.Fatal(err)
	}
	pkts = pkts[:min(len(pkts), 1750)] // 35 s: past the tap's 20 s queue

	var mu sync.Mutex
	stalled := true
	release := make(chan struct{})
	asrServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		wait := stalled
		mu.Unlock()
		if wait {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Second):
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"text":"words","segments":[{"start":0,"end":0.5,"text":"words"}]}`))
	}))
	defer asrServer.Close()
	cfg := liveConfig(t)
	cfg.Speech.Engine, cfg.Speech.OpenAIURL, cfg.Speech.OpenAIModel, cfg.Speech.Streams = "openai", asrServer.URL, "whisper-1", 1
	srv := startLiveServer(t, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	obs, err := client.Connect(ctx, srv.URL(), client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Drop()
	if _, err := obs.Join(ctx, "stall-room", "Observer"); err != nil {
		t.Fatal(err)
	}
	obs.Send(map[string]any{"type": "transcription", "enabled": true})
	spk, err := client.Connect(ctx, srv.URL(), client.Options{SendOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer spk.Drop()
	if _, err := spk.Join(ctx, "stall-room", "David"); err != nil {
		t.Fatal(err)
	}
	tr, err := spk.PublishAudio(ctx, client.AudioOptions{Packets: pkts})
	if err != nil {
		t.Fatal(err)
	}
	dropped := func() uint64 { return srv.SFU.Metrics().Snapshot().Drops["tap_full"] }
	waitUntil(t, 40*time.Second, "the speech tap to drop while the recogniser is stalled", func() bool { return dropped() > 0 })
	// Forwarding did not wait for the tap: the observer hears David.
	r := obs.Received()[tr.ServerID()]
	if r == nil {
		t.Fatal("the observer receives nothing of David's track")
	}
	before := r.Stats().Packets
	time.Sleep(time.Second)
	if got := r.Stats().Packets - before; got < 40 {
		t.Fatalf("observer got %d packets in 1 s while the tap was full", got)
	}
	mu.Lock()
	stalled = false
	mu.Unlock()
	close(release)
	waitUntil(t, 40*time.Second, "David's stream to end", tr.Finished)
	meetingID, meetingKey := "", ""
	for _, msg := range obs.Messages() {
		if msg.Type == "joined" {
			meetingID, meetingKey = msg.MeetingID, msg.MeetingKey
		}
	}
	spk.Close()
	obs.Close()
	waitUntil(t, 40*time.Second, "the meeting's transcript to finish", func() bool {
		return srv.Rooms.Participants("stall-room") == 0 && srv.Speech.Pending() == 0
	})
	lost := srv.Speech.Stats().DroppedSeconds
	if n := dropped(); math.Abs(lost-float64(n)*0.02) > 1e-9 || lost <= 0 {
		t.Fatalf("speech reports %.3f s lost; the tap dropped %d packets of 20 ms", lost, n)
	}
	var doc struct {
		Events []struct {
			At      float64 `json:"at"`
			Kind    string  `json:"kind"`
			Speaker string  `json:"speaker"`
			Detail  string  `json:"detail"`
		} `json:"events"`
	}
	if err := json.Unmarshal(fetchTranscript(t, srv.URL(), meetingID, meetingKey, "json"), &doc); err != nil {
		t.Fatal(err)
	}
	noted := 0
	for _, e := range doc.Events {
		if e.Kind == "audio_dropped" {
			noted++
			if e.Speaker != "David" || !strings.HasSuffix(e.Detail, " s") || e.At <= 0 || e.At > 40 {
				t.Errorf("event %+v", e)
			}
		}
	}
	if noted == 0 {
		t.Fatalf("the transcript does not say audio was lost: %+v", doc.Events)
	}
	t.Logf("tap dropped %d packets (%.2f s), %d audio_dropped event(s) in the transcript", dropped(), lost, noted)
}
