package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/devset"
	"github.com/parleyhq/parley/internal/testkit/leak"
)

// Helpers of the live-transcription tests: dev-set stems encoded as a
// browser would send them, a meeting of pion clients playing them, the
// stored transcript fetched over HTTP and scored with the dev set's wer tool.

// encodeStems turns a meeting's FLAC stems into Ogg/Opus files of 20 ms
// packets (what a browser sends) with opusenc from opus-tools.
func encodeStems(t *testing.T, m devset.Meeting) map[string]string {
	t.Helper()
	out := map[string]string{}
	dir := t.TempDir()
	for name, flac := range m.Stems {
		dst := filepath.Join(dir, name+".opus")
		cmd := exec.Command("opusenc", "--quiet", "--framesize", "20", "--bitrate", "32", flac, dst)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("opusenc %s: %v\n%s", flac, err, b)
		}
		out[name] = dst
	}
	return out
}

// liveMeeting is a live meeting of the stems of one dev-set meeting: one
// pion client per speaker publishing their stem, and an observer.
type liveMeeting struct {
	srv      *Server
	observer *client.Client
	speakers map[string]*client.Client // by stem name
	tracks   map[string]*client.LocalTrack
}

// liveConfig keeps a transcribing server on loopback: HTTP on port 0,
// media gathered on lo only, no ICE-TCP, the default speech engine.
func liveConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Media.UDPPort, cfg.Media.TCPPort = 0, -1
	cfg.Media.ListenIP = "127.0.0.1"
	cfg.Media.ICEInterfaces = []string{"lo"}
	cfg.MetricsListen = "127.0.0.1:0"
	return cfg
}

// startLiveServer starts a server; when the test ends it shuts it down
// and checks that no goroutine of ours or pion's is left behind.
func startLiveServer(t *testing.T, cfg config.Config) *Server {
	t.Helper()
	before := leak.Take()
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		before.Check(t, 5*time.Second)
	})
	return srv
}

// runLiveMeeting joins everyone, turns transcription on, plays every stem
// from the same instant and waits until they have all been sent.
func runLiveMeeting(t *testing.T, ctx context.Context, srv *Server, room string, opus map[string]string, stopAfter time.Duration) *liveMeeting {
	t.Helper()
	lm := &liveMeeting{srv: srv, speakers: map[string]*client.Client{}, tracks: map[string]*client.LocalTrack{}}
	var err error
	lm.observer, err = client.Connect(ctx, srv.URL(), client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lm.observer.Drop() })
	if _, err := lm.observer.Join(ctx, room, "Observer"); err != nil {
		t.Fatal(err)
	}
	lm.observer.Send(map[string]any{"type": "transcription", "enabled": true})
	if _, err := lm.observer.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "transcription" && strings.Contains(string(m.Raw), `"enabled":true`)
	}); err != nil {
		t.Fatalf("transcription not turned on: %v", err)
	}
	names := make([]string, 0, len(opus))
	for n := range opus {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		pkts, err := client.LoadOggOpus(opus[name])
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.Connect(ctx, srv.URL(), client.Options{SendOnly: true, KeepMessages: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Drop() })
		m, err := c.Join(ctx, room, name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Raw), `"transcription":{"enabled":true`) {
			t.Errorf("%s was not told on joining that the meeting is transcribed: %s", name, m.Raw)
		}
		tr, err := c.PublishAudio(ctx, client.AudioOptions{Packets: pkts, StartPaused: true})
		if err != nil {
			t.Fatal(err)
		}
		lm.speakers[name], lm.tracks[name] = c, tr
	}
	// The server announces a track at its first packet, so the tracks
	// are only negotiated here; they start together.
	time.Sleep(500 * time.Millisecond)
	for _, tr := range lm.tracks {
		tr.Pause(false)
	}
	deadline := time.Now().Add(stopAfter)
	for _, tr := range lm.tracks {
		for !tr.Finished() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return lm
}

// finalCaptions returns the observer's final, non-empty captions.
func (lm *liveMeeting) finalCaptions() []client.Message {
	var out []client.Message
	for _, m := range lm.observer.Messages() {
		if m.Type == "caption" && strings.Contains(string(m.Raw), `"final":true`) && m.Text != "" {
			out = append(out, m)
		}
	}
	return out
}

type captionMsg struct {
	SpeakerID   string  `json:"speaker_id"`
	SpeakerName string  `json:"speaker_name"`
	Text        string  `json:"text"`
	Final       bool    `json:"final"`
	Start       float64 `json:"start"`
	End         float64 `json:"end"`
}

// fetchTranscript downloads a transcript with a participant's meeting key.
func fetchTranscript(t *testing.T, base, meetingID, key, format string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/meetings/"+meetingID+"/transcript?format="+format, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("transcript %s: %d %s", format, resp.StatusCode, b)
	}
	return b
}

// scoreCpWER writes a hypothesis in the scorers' format and runs the
// shared wer tool on it; it returns WER and cpWER in percent.
func scoreCpWER(t *testing.T, m devset.Meeting, segs []map[string]any) (wer, cpwer float64) {
	t.Helper()
	bin, err := devset.BuildTool(context.Background(), t.TempDir(), "wer")
	if err != nil {
		t.Fatal(err)
	}
	hyp := filepath.Join(t.TempDir(), m.ID+".json")
	b, _ := json.Marshal(segs)
	os.WriteFile(hyp, b, 0o600)
	out, err := exec.Command(bin, "-ref", m.Transcript, "-hyp", hyp, "-json").Output()
	if err != nil {
		t.Fatalf("wer: %v", err)
	}
	var res struct {
		Total struct {
			WER   float64  `json:"wer"`
			CpWER *float64 `json:"cpwer"`
		} `json:"total"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Total.CpWER == nil {
		t.Fatalf("wer output: %v\n%s", err, out)
	}
	return 100 * res.Total.WER, 100 * *res.Total.CpWER
}
