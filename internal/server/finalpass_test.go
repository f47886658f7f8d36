package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/asrtest"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
	"github.com/parleyhq/parley/internal/transcript"
)

// fakeWhisper is an OpenAI-compatible transcription server on loopback
// (a remote GPU server cannot run here): every utterance is "final pass
// words", with word times, in verbose_json. seen, when set, sees each
// request's form.
func fakeWhisper(t *testing.T, seen func(*http.Request)) (url string, requests *atomic.Int64) {
	t.Helper()
	requests = new(atomic.Int64)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/audio/transcriptions" || r.FormValue("model") != "whisper-test" || r.FormValue("response_format") != "verbose_json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		f, _, err := r.FormFile("file")
		if err != nil {
			http.Error(w, "no file", http.StatusBadRequest)
			return
		}
		io.Copy(io.Discard, f)
		requests.Add(1)
		if seen != nil {
			seen(r)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"text":"final pass words","segments":[{"start":0.05,"end":0.9,"text":"final pass words"}],
			"words":[{"word":"final","start":0.05,"end":0.3},{"word":"pass","start":0.3,"end":0.6},{"word":"words","start":0.6,"end":0.9}]}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), requests
}

// clipOpus encodes dev-set clips (with silence around them) as a
// browser's 20 ms Opus packets.
func clipOpus(t *testing.T, clips ...asrtest.Clip) [][]byte {
	t.Helper()
	var pcm []float32
	for _, c := range clips {
		pcm = append(append(pcm, asrtest.Load(t, c)...), asrtest.Silence(0.8)...)
	}
	dir := t.TempDir()
	wav, opus := filepath.Join(dir, "clip.wav"), filepath.Join(dir, "clip.opus")
	if err := meetsynth.WriteWAV(wav, pcm); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("opusenc", "--quiet", "--framesize", "20", "--bitrate", "32", wav, opus).CombinedOutput(); err != nil {
		t.Fatalf("opusenc: %v %s", err, out)
	}
	pkts, err := client.LoadOggOpus(opus)
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

// TestFinalPassReplacesLiveSegments: with --final-asr-engine, once a
// recorded and transcribed meeting ends, the recorded microphones are
// transcribed again by that engine; its segments replace the live ones
// (pocketsphinx), which are kept as revision 1 and served with
// ?revision=1; a participant who opted out is not transcribed by the
// second pass either.
func TestFinalPassReplacesLiveSegments(t *testing.T) {
	whisper, requests := fakeWhisper(t, nil)
	cfg := liveConfig(t)
	cfg.Speech.FinalEngine, cfg.Speech.FinalOpenAIURL, cfg.Speech.FinalOpenAIModel = "openai", whisper, "whisper-test"
	srv := startLiveServer(t, cfg)
	ctx := ctxT(t, 2*time.Minute)
	const roomID = "final-pass-room"

	ada, adaJoined := joinAs(t, srv, roomID, "Ada")
	ada.Send(map[string]any{"type": "transcription", "enabled": true})
	ada.Send(map[string]any{"type": "recording", "enabled": true})
	for _, typ := range []string{"transcription", "recording"} {
		if _, err := ada.WaitFor(ctx, func(m client.Message) bool {
			return m.Type == typ && strings.Contains(string(m.Raw), `"enabled":true`)
		}); err != nil {
			t.Fatalf("%s not on: %v", typ, err)
		}
	}
	bob, _ := joinAs(t, srv, roomID, "Bob")
	cleo, _ := joinAs(t, srv, roomID, "Cleo")
	cleo.Send(map[string]any{"type": "transcription_opt_out", "opt_out": true})
	time.Sleep(200 * time.Millisecond)
	bobMic, err := bob.PublishAudio(ctx, client.AudioOptions{Packets: clipOpus(t, asrtest.Clips[0], asrtest.Clips[1])})
	if err != nil {
		t.Fatal(err)
	}
	cleoMic, err := cleo.PublishAudio(ctx, client.AudioOptions{Packets: clipOpus(t, asrtest.Clips[2])})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "both clips sent", func() bool { return bobMic.Finished() && cleoMic.Finished() })
	if _, err := ada.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "caption" && strings.Contains(string(m.Raw), `"final":true`) && strings.Contains(string(m.Raw), `"speaker_name":"Bob"`)
	}); err != nil {
		t.Fatalf("no live caption of Bob: %v", err)
	}
	for _, c := range []*client.Client{ada, bob, cleo} {
		c.Close()
	}
	mid := adaJoined.MeetingID
	waitUntil(t, 60*time.Second, "the final pass", func() bool {
		revs, err := srv.Store.Revisions(ctx, mid)
		return err == nil && len(revs) == 1
	})

	now, err := srv.Store.Transcript(ctx, mid)
	if err != nil {
		t.Fatal(err)
	}
	live, err := srv.Store.RevisionTranscript(ctx, mid, 1)
	if err != nil {
		t.Fatal(err)
	}
	texts := func(tr *transcript.Transcript, name string) string {
		var out []string
		for _, s := range tr.Segments {
			if s.Speaker == name {
				out = append(out, s.Text)
			}
		}
		return strings.Join(out, " | ")
	}
	t.Logf("live: %q; final: %q; %d requests to the final engine", texts(live, "Bob"), texts(now, "Bob"), requests.Load())
	if got := texts(now, "Bob"); !strings.Contains(got, "final pass words") || strings.Contains(got, "forward") {
		t.Errorf("Bob's segments after the final pass: %q", got)
	}
	if got := texts(live, "Bob"); !strings.Contains(got, "forward") || strings.Contains(got, "final pass") {
		t.Errorf("the live revision of Bob's segments: %q", got)
	}
	if texts(now, "Cleo") != "" || texts(live, "Cleo") != "" {
		t.Errorf("Cleo opted out but was transcribed: now %q, live %q", texts(now, "Cleo"), texts(live, "Cleo"))
	}
	for _, s := range now.Segments {
		if s.SpeakerID == "" || s.Start < 0 || s.End > now.Segments[len(now.Segments)-1].End+0.001 || len(s.Words) == 0 {
			t.Errorf("segment %+v", s)
		}
	}

	get := func(path string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+adaJoined.MeetingKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/api/meetings/" + mid + "/revisions")
	var revs struct {
		Revisions []struct {
			N     int    `json:"n"`
			Label string `json:"label"`
		} `json:"revisions"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &revs) != nil || len(revs.Revisions) != 1 || revs.Revisions[0].Label != "live" {
		t.Errorf("revisions: %d %s", code, body)
	}
	if code, body := get(fmt.Sprintf("/api/meetings/%s/transcript?format=txt&revision=1", mid)); code != 200 || !strings.Contains(body, "forward") {
		t.Errorf("the live revision as text: %d %s", code, body)
	}
	if code, _ := get(fmt.Sprintf("/api/meetings/%s/transcript?revision=2", mid)); code != 404 {
		t.Errorf("a revision that does not exist: %d", code)
	}
}
