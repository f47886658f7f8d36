package server

import (
	"context"
	"encoding/json"
	"github.com/parleyhq/parley/internal/store"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/jobs"
	"github.com/parleyhq/parley/internal/testkit/asrtest"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
)

// post sends body to path as the browser would (CSRF cookie and header).
func post(t *testing.T, srv *Server, method, path string, body io.Reader, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL()+path, body)
	req.Header.Set("X-Parley-CSRF", csrf)
	req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: csrf})
	if method == "POST" {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
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

// TestUploadTranscribed: a recording of two voices, uploaded as WAV,
// FLAC, Ogg/Opus and MP3, becomes a transcript (its words, diarized speakers)
// through the durable queue; its uploader may read and delete it, and
// deleting it removes the stored file.
func TestUploadTranscribed(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.Speech.Engine, c.Speech.Streams = "pocketsphinx", 1 })
	dir := t.TempDir()
	var pcm []float32
	for _, c := range asrtest.Clips[:2] {
		pcm = append(append(pcm, asrtest.Load(t, c)...), asrtest.Silence(0.8)...)
	}
	wav := filepath.Join(dir, "meeting.wav")
	if err := meetsynth.WriteWAV(wav, pcm); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"wav": wav, "flac": filepath.Join(dir, "meeting.flac"), "ogg": filepath.Join(dir, "meeting.opus"), "mp3": filepath.Join(dir, "meeting.mp3")}
	if out, err := exec.Command("sox", wav, files["flac"]).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, out)
	}
	if out, err := exec.Command("opusenc", "--quiet", wav, files["ogg"]).CombinedOutput(); err != nil {
		t.Fatalf("opusenc: %v %s", err, out)
	}
	// MP3 with ID3v2 tags in front, as most recorders write.
	if out, err := exec.Command("lame", "--quiet", "--tt", "Council", "--ta", "Clerk", "--add-id3v2", wav, files["mp3"]).CombinedOutput(); err != nil {
		t.Fatalf("lame: %v %s", err, out)
	}
	uploads := filepath.Join(srv.cfg.DataDir, "uploads")
	observed := 0 // progress reports while running, over every format
	for _, format := range []string{"wav", "flac", "ogg", "mp3"} {
		f, err := os.Open(files[format])
		if err != nil {
			t.Fatal(err)
		}
		code, body := post(t, srv, "POST", "/api/transcriptions?speakers=2&language=en&name=Council+"+format, f, "")
		f.Close()
		var up struct{ MeetingID, Key, StatusURL, TranscriptURL string }
		json.Unmarshal([]byte(body), &struct {
			M *string `json:"meeting_id"`
			K *string `json:"key"`
			S *string `json:"status_url"`
			T *string `json:"transcript_url"`
		}{&up.MeetingID, &up.Key, &up.StatusURL, &up.TranscriptURL})
		if code != http.StatusAccepted || up.Key == "" || !strings.HasPrefix(up.MeetingID, "MT_") {
			t.Fatalf("%s upload: %d %s", format, code, body)
		}
		var state string
		last := -1.0
		waitUntil(t, 90*time.Second, format+" transcribed", func() bool {
			req, _ := http.NewRequest("GET", srv.URL()+up.StatusURL, nil)
			req.Header.Set("Authorization", "Bearer "+up.Key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var st struct {
				State, Error, Step string
				Progress           *float64
			}
			json.NewDecoder(resp.Body).Decode(&st)
			state = st.State
			if st.Progress != nil {
				if st.State != "running" || *st.Progress < 0 || *st.Progress > 1 || (st.Step != "recognising" && st.Step != "diarizing") {
					t.Errorf("%s: progress %v step %q in state %s", format, *st.Progress, st.Step, st.State)
				}
				if *st.Progress < last {
					t.Errorf("%s: progress went back from %v to %v", format, last, *st.Progress)
				}
				last = *st.Progress
				observed++
			}
			if st.State == "dead" {
				t.Fatalf("%s: the job failed: %s", format, st.Error)
			}
			return st.State == "done"
		})
		req, _ := http.NewRequest("GET", srv.URL()+up.TranscriptURL+"?format=json", nil)
		req.Header.Set("Authorization", "Bearer "+up.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var tr struct {
			Meeting  struct{ Title string }
			Segments []struct {
				SpeakerID string `json:"speaker_id"`
				Text      string
			}
		}
		json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		var text strings.Builder
		speakers := map[string]bool{}
		for _, s := range tr.Segments {
			text.WriteString(s.Text + " ")
			speakers[s.SpeakerID] = true
		}
		if tr.Meeting.Title != "Council "+format || !strings.Contains(text.String(), "forward") || !strings.Contains(text.String(), "placed") || len(speakers) != 2 || !speakers["SPEAKER_1"] {
			t.Fatalf("%s (%s): title %q, speakers %v, text %q", format, state, tr.Meeting.Title, speakers, text.String())
		}
		stored := filepath.Join(uploads, up.MeetingID+".audio")
		if _, err := os.Stat(stored); err != nil {
			t.Fatalf("%s: the upload is not kept: %v", format, err)
		}
		// Kept on this node's disk: its job is this node's alone (another
		// node sharing the queue could not read it).
		if j, err := srv.Store.JobByKey(context.Background(), jobs.UploadKey(up.MeetingID)); err != nil || j.Node == "" || j.Node != srv.node {
			t.Errorf("%s: the upload's job is tied to node %q (%v), want this node's %q", format, j.Node, err, srv.node)
		}
		if code, body := post(t, srv, "DELETE", "/api/meetings/"+up.MeetingID, nil, up.Key); code != http.StatusNoContent {
			t.Fatalf("%s: delete: %d %s", format, code, body)
		}
		if _, err := os.Stat(stored); !os.IsNotExist(err) {
			t.Fatalf("%s: the upload outlived its meeting: %v", format, err)
		}
	}
	if observed == 0 {
		t.Error("no job reported its progress while running")
	}
	t.Logf("%d progress reports while running", observed)
}

// countingReader is an endless body that counts what was read of it.
type countingReader struct{ n atomic.Int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// TestUploadRefusals: over the limit is 413 before the body is read;
// content that is not audio we decode is 415 naming the formats taken;
// neither leaves a file.
func TestUploadRefusals(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.Speech.Engine, c.Speech.Streams = "pocketsphinx", 1; c.UploadMax = 1 << 20 })
	uploads := filepath.Join(srv.cfg.DataDir, "uploads")

	body := &countingReader{}
	req, _ := http.NewRequest("POST", srv.URL()+"/api/transcriptions", io.LimitReader(body, 200<<20))
	req.ContentLength = 200 << 20
	req.Header.Set("Content-Type", "audio/wav")
	req.Header.Set("X-Parley-CSRF", csrf)
	req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: csrf})
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "too_large") {
		t.Fatalf("200 MiB announced: %d %s", resp.StatusCode, b)
	}
	if n := body.n.Load(); n > 8<<20 {
		t.Errorf("the client sent %d bytes before the 413 (in %v)", n, time.Since(start))
	}
	t.Logf("413 after %v, %d KiB of the body sent", time.Since(start), body.n.Load()>>10)

	// Chunked (no length announced): cut at the limit.
	chunked := &countingReader{}
	req, _ = http.NewRequest("POST", srv.URL()+"/api/transcriptions", io.LimitReader(chunked, 4<<20))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "audio/wav")
	req.Header.Set("X-Parley-CSRF", csrf)
	req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: csrf})
	if resp, err := http.DefaultClient.Do(req); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked 4 MiB over a 1 MiB limit: %d %s", resp.StatusCode, b)
		}
	}

	for name, garbage := range map[string]string{"text": "this is not audio at all, just some words", "mp4": "\x00\x00\x00\x18ftypmp42" + strings.Repeat("\x00", 100),
		"truncated wav": "RIFF\x24\x00\x00\x00WAVEfmt "} {
		code, body := post(t, srv, "POST", "/api/transcriptions", strings.NewReader(garbage), "")
		if code != http.StatusUnsupportedMediaType || !strings.Contains(body, "unsupported_audio") || !strings.Contains(body, "FLAC") {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	if code, body := post(t, srv, "POST", "/api/transcriptions?language=fr", strings.NewReader("x"), ""); code != http.StatusBadRequest || !strings.Contains(body, `\"en\" only`) {
		t.Errorf("language=fr on an English server: %d %s", code, body)
	}
	if code, body := post(t, srv, "POST", "/api/transcriptions?speakers=99", strings.NewReader("x"), ""); code != http.StatusBadRequest {
		t.Errorf("speakers=99: %d %s", code, body)
	}
	// Cross-site, without the CSRF token, or of a type a form can send.
	for name, mut := range map[string]func(r *http.Request){
		"other origin":   func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") },
		"cross-site":     func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
		"no CSRF header": func(r *http.Request) { r.Header.Del("X-Parley-CSRF") },
		"text/plain":     func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
		"form":           func(r *http.Request) { r.Header.Set("Content-Type", "multipart/form-data; boundary=x") },
	} {
		req, _ := http.NewRequest("POST", srv.URL()+"/api/transcriptions", strings.NewReader("RIFF"))
		req.Header.Set("Content-Type", "audio/wav")
		req.Header.Set("X-Parley-CSRF", csrf)
		req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: csrf})
		mut(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("upload, %s: %d, want 403", name, resp.StatusCode)
		}
	}
	left, _ := os.ReadDir(uploads)
	if len(left) != 0 {
		t.Fatalf("refused uploads left %d files", len(left))
	}
	js, _ := srv.Store.Jobs(t.Context(), "", 10)
	for _, j := range js {
		if j.Kind == jobs.KindUpload {
			t.Fatalf("a refused upload queued %+v", j)
		}
	}
}

// TestUploadInAnotherLanguage: with an OpenAI-compatible engine, an
// upload names its language and each request to the engine carries it;
// an invalid language is refused.
func TestUploadInAnotherLanguage(t *testing.T) {
	var langs sync.Map
	whisper, requests := fakeWhisper(t, func(r *http.Request) { langs.Store(r.FormValue("language"), true) })
	srv := start(t, func(c *config.Config) {
		c.Speech.Engine, c.Speech.OpenAIURL, c.Speech.OpenAIModel = "openai", whisper, "whisper-test"
	})
	wav := filepath.Join(t.TempDir(), "clip.wav")
	if err := meetsynth.WriteWAV(wav, append(asrtest.Load(t, asrtest.Clips[0]), asrtest.Silence(0.5)...)); err != nil {
		t.Fatal(err)
	}
	if code, body := post(t, srv, "POST", "/api/transcriptions?language=f1", strings.NewReader("x"), ""); code != http.StatusBadRequest {
		t.Errorf("language=f1: %d %s", code, body)
	}
	f, _ := os.Open(wav)
	defer f.Close()
	code, body := post(t, srv, "POST", "/api/transcriptions?language=fr", f, "")
	if code != http.StatusAccepted {
		t.Fatalf("upload: %d %s", code, body)
	}
	waitUntil(t, 30*time.Second, "the engine asked", func() bool { return requests.Load() > 0 })
	waitUntil(t, 30*time.Second, "the job done", func() bool {
		js, _ := srv.Store.Jobs(context.Background(), store.JobDone, 10)
		return len(js) > 0
	})
	if _, ok := langs.Load("fr"); !ok {
		var got []any
		langs.Range(func(k, _ any) bool { got = append(got, k); return true })
		t.Errorf("the engine was asked for languages %v, want fr", got)
	}
}
