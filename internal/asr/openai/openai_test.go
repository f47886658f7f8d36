package openai

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/asr/pocketsphinx"
	"github.com/parleyhq/parley/internal/testkit/asrtest"
)

// fakeReq is what the fake server understood of one request.
type fakeReq struct {
	Model, Language, Format string
	Granularities           []string
	PCM                     []int16
	Auth                    string
}

// fake is an in-process OpenAI-compatible transcription server. It checks
// each request the way a real server would (multipart form, model, a 16 kHz
// mono 16-bit WAV) and answers with respond.
type fake struct {
	t        testing.TB
	respond  func(r *http.Request, q fakeReq) (int, string)
	mu       sync.Mutex
	reqs     []fakeReq
	inflight atomic.Int32
	peak     atomic.Int32
}

func newFake(t testing.TB, respond func(r *http.Request, q fakeReq) (int, string)) (*fake, *httptest.Server) {
	f := &fake{t: t, respond: respond}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		http.Error(w, `{"error":{"message":"bad form"}}`, http.StatusBadRequest)
		return
	}
	q := fakeReq{
		Model:         r.FormValue("model"),
		Language:      r.FormValue("language"),
		Format:        r.FormValue("response_format"),
		Granularities: r.MultipartForm.Value["timestamp_granularities[]"],
		Auth:          r.Header.Get("Authorization"),
	}
	file, _, err := r.FormFile("file")
	if err != nil || q.Model == "" {
		http.Error(w, `{"error":{"message":"file and model are required"}}`, http.StatusBadRequest)
		return
	}
	wav, _ := io.ReadAll(file)
	if q.PCM, err = readWAV(wav); err != nil {
		http.Error(w, `{"error":{"message":"`+err.Error()+`"}}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, q)
	f.mu.Unlock()
	status, body := f.respond(r, q)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fake) requests() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeReq(nil), f.reqs...)
}

func readWAV(b []byte) ([]int16, error) {
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		return nil, errors.New("not a canonical WAV")
	}
	if binary.LittleEndian.Uint16(b[22:]) != 1 || binary.LittleEndian.Uint32(b[24:]) != 16000 || binary.LittleEndian.Uint16(b[34:]) != 16 {
		return nil, errors.New("want 16 kHz mono 16-bit")
	}
	n := int(binary.LittleEndian.Uint32(b[40:]))
	if n != len(b)-44 {
		return nil, fmt.Errorf("data size %d, file has %d", n, len(b)-44)
	}
	pcm := make([]int16, n/2)
	binary.Read(bytes.NewReader(b[44:]), binary.LittleEndian, pcm)
	return pcm, nil
}

func newEngine(t *testing.T, url string, mod func(*Config)) *Engine {
	t.Helper()
	cfg := Config{BaseURL: url, Model: "whisper-1", Language: "en", Backoff: time.Millisecond, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// run sends secs seconds of audio as one utterance.
func run(ctx context.Context, e *Engine, pcm []float32) (asr.Result, error) {
	s, err := e.NewStream(ctx, nil)
	if err != nil {
		return asr.Result{}, err
	}
	for i := 0; i < len(pcm); i += 1600 {
		if err := s.Write(ctx, pcm[i:min(i+1600, len(pcm))]); err != nil {
			return asr.Result{}, err
		}
	}
	return s.Final(ctx)
}

func tone(sec float64) []float32 {
	p := make([]float32, int(sec*16000))
	for i := range p {
		p[i] = 0.3 * float32(math.Sin(float64(i)*2*math.Pi*220/16000))
	}
	return p
}

const verboseTop = `{"task":"transcribe","language":"english","duration":2.0,"text":" Hello there, world.",
 "segments":[{"id":0,"start":0.0,"end":2.0,"text":" Hello there, world."}],
 "words":[{"word":" Hello","start":0.2,"end":0.5},{"word":"there,","start":0.5,"end":0.9},{"word":"world.","start":1.0,"end":1.6}]}`

const verboseNested = `{"text":"go forward","segments":[
 {"start":0.1,"end":0.9,"text":"go","words":[{"word":"go","start":0.1,"end":0.4}]},
 {"start":0.9,"end":1.8,"text":"forward","words":[{"word":"forward","start":0.9,"end":5.0}]}]}`

func TestVerboseJSONTopLevelWords(t *testing.T) {
	f, srv := newFake(t, func(*http.Request, fakeReq) (int, string) { return 200, verboseTop })
	e := newEngine(t, srv.URL+"/v1/", func(c *Config) { c.APIKey = "sekret" })
	r, err := run(context.Background(), e, tone(2))
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "Hello there, world." || len(r.Words) != 3 || r.Words[0].Text != "Hello" || r.Words[2].Start != 1.0 || r.Estimated {
		t.Fatalf("%+v", r)
	}
	q := f.requests()[0]
	if q.Model != "whisper-1" || q.Language != "en" || q.Format != "verbose_json" || strings.Join(q.Granularities, ",") != "segment,word" {
		t.Errorf("request %+v", q)
	}
	if q.Auth != "Bearer sekret" || len(q.PCM) != 32000 {
		t.Errorf("auth %q, %d samples", q.Auth, len(q.PCM))
	}
}

func TestNestedWordsClamped(t *testing.T) {
	_, srv := newFake(t, func(*http.Request, fakeReq) (int, string) { return 200, verboseNested })
	e := newEngine(t, srv.URL, nil) // base URL without /v1
	r, err := run(context.Background(), e, tone(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Words) != 2 || r.Words[1].Text != "forward" || r.Words[1].End != 2.0 {
		t.Fatalf("%+v (word end must be clamped to the 2 s utterance)", r)
	}
}

func TestMissingWordTimesAreSpread(t *testing.T) {
	_, srv := newFake(t, func(*http.Request, fakeReq) (int, string) {
		return 200, `{"text":"one two three four","segments":[{"start":0,"end":1,"text":"one two"},{"start":1,"end":2,"text":"three four"}]}`
	})
	e := newEngine(t, srv.URL, nil)
	r, err := run(context.Background(), e, tone(2))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Estimated || len(r.Words) != 4 || r.Words[2].Start != 1 || r.Words[3].End != 2 {
		t.Fatalf("%+v", r)
	}
}

func TestVerboseRefusedFallsBackToJSON(t *testing.T) {
	f, srv := newFake(t, func(_ *http.Request, q fakeReq) (int, string) {
		if q.Format == "verbose_json" {
			return 400, `{"error":{"message":"response_format 'verbose_json' is not supported","type":"invalid_request_error"}}`
		}
		return 200, `{"text":"plain words only"}`
	})
	e := newEngine(t, srv.URL, nil)
	for i := range 2 {
		r, err := run(context.Background(), e, tone(1.5))
		if err != nil {
			t.Fatal(err)
		}
		if r.Text != "plain words only" || !r.Estimated || len(r.Words) != 3 || r.Words[2].End != 1.5 {
			t.Fatalf("utterance %d: %+v", i, r)
		}
	}
	var formats []string
	for _, q := range f.requests() {
		formats = append(formats, q.Format)
	}
	// The second utterance goes straight to json.
	if strings.Join(formats, ",") != "verbose_json,json,json" {
		t.Fatalf("formats sent: %v", formats)
	}
}

func TestRetries5xxThenSucceeds(t *testing.T) {
	var n atomic.Int32
	_, srv := newFake(t, func(*http.Request, fakeReq) (int, string) {
		if n.Add(1) <= 2 {
			return 500, `{"error":{"message":"CUDA out of memory"}}`
		}
		return 200, verboseTop
	})
	e := newEngine(t, srv.URL, nil)
	r, err := run(context.Background(), e, tone(2))
	if err != nil || r.Text == "" {
		t.Fatalf("%+v %v", r, err)
	}
	if e.Requests() != 3 {
		t.Fatalf("%d attempts, want 3", e.Requests())
	}
}

func TestPersistent500GivesUp(t *testing.T) {
	_, srv := newFake(t, func(*http.Request, fakeReq) (int, string) { return 503, `busy` })
	e := newEngine(t, srv.URL, func(c *Config) { c.Retries = 2 })
	_, err := run(context.Background(), e, tone(1))
	if !errors.Is(err, ErrHTTP) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("%v", err)
	}
	if e.Requests() != 3 {
		t.Fatalf("%d attempts, want 3", e.Requests())
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	_, srv := newFake(t, func(*http.Request, fakeReq) (int, string) { return 401, `{"error":{"message":"bad key"}}` })
	e := newEngine(t, srv.URL, nil)
	_, err := run(context.Background(), e, tone(1))
	if !errors.Is(err, ErrHTTP) || !strings.Contains(err.Error(), "401") || e.Requests() != 1 {
		t.Fatalf("%v after %d attempts", err, e.Requests())
	}
}

func TestMalformedJSON(t *testing.T) {
	for _, body := range []string{`{"text": "unterminated`, `<html>502 Bad Gateway</html>`, `{"words": 7}`, `{}`} {
		_, srv := newFake(t, func(*http.Request, fakeReq) (int, string) { return 200, body })
		e := newEngine(t, srv.URL, nil)
		if _, err := run(context.Background(), e, tone(1)); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%q: %v", body, err)
		}
	}
}

// TestHangingServerTimesOut: a server that never answers costs each attempt
// Timeout, then the engine gives up; it never blocks past that.
func TestHangingServerTimesOut(t *testing.T) {
	_, srv := newFake(t, func(r *http.Request, _ fakeReq) (int, string) {
		<-r.Context().Done()
		return 200, verboseTop
	})
	e := newEngine(t, srv.URL, func(c *Config) { c.Timeout = 100 * time.Millisecond; c.Retries = 1 })
	start := time.Now()
	_, err := run(context.Background(), e, tone(1))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging server: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %v", el)
	}
	if e.Requests() != 2 {
		t.Fatalf("%d attempts", e.Requests())
	}
}

// TestCallerContextBoundsEverything: with generous timeouts and retries the
// caller's context still ends the call promptly.
func TestCallerContextBoundsEverything(t *testing.T) {
	_, srv := newFake(t, func(r *http.Request, _ fakeReq) (int, string) {
		<-r.Context().Done()
		return 500, ""
	})
	e := newEngine(t, srv.URL, func(c *Config) { c.Timeout = time.Minute; c.Retries = 10 })
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := run(ctx, e, tone(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %v", el)
	}
}

func TestConcurrencyBounded(t *testing.T) {
	f, srv := newFake(t, func(*http.Request, fakeReq) (int, string) {
		time.Sleep(30 * time.Millisecond)
		return 200, verboseTop
	})
	e := newEngine(t, srv.URL, func(c *Config) { c.Concurrency = 2 })
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			_, err := run(context.Background(), e, tone(0.5))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := f.peak.Load(); p > 2 {
		t.Fatalf("%d requests in flight, limit 2", p)
	}
}

func TestTooLongAndBadConfig(t *testing.T) {
	_, srv := newFake(t, func(*http.Request, fakeReq) (int, string) { return 200, verboseTop })
	e := newEngine(t, srv.URL, func(c *Config) { c.MaxUtterance = 1 })
	if _, err := run(context.Background(), e, tone(1.5)); !errors.Is(err, asr.ErrTooLong) {
		t.Fatalf("%v", err)
	}
	for _, c := range []Config{{BaseURL: "ftp://x", Model: "m"}, {BaseURL: "http://x"}, {BaseURL: "::", Model: "m"}} {
		if _, err := New(c); !errors.Is(err, asr.ErrConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestRealRecognitionsThroughFakeServer puts pocketsphinx behind the fake
// server, so the words the engine gets back are real recognitions of the
// audio it sent, with real times.
func TestRealRecognitionsThroughFakeServer(t *testing.T) {
	ps, err := pocketsphinx.New(pocketsphinx.Config{Pool: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	_, srv := newFake(t, func(r *http.Request, q fakeReq) (int, string) {
		pcm := make([]float32, len(q.PCM))
		for i, v := range q.PCM {
			pcm[i] = float32(v) / 32768
		}
		s, err := ps.NewStream(r.Context(), nil)
		if err != nil {
			return 503, err.Error()
		}
		s.Write(r.Context(), pcm)
		res, err := s.Final(r.Context())
		if err != nil {
			return 500, err.Error()
		}
		out := map[string]any{"text": res.Text, "words": []map[string]any{}}
		for _, w := range res.Words {
			out["words"] = append(out["words"].([]map[string]any), map[string]any{"word": w.Text, "start": w.Start, "end": w.End})
		}
		b, _ := json.Marshal(out)
		return 200, string(b)
	})
	// Decoding takes ~1 s of CPU; a loaded CI machine may need far more.
	e := newEngine(t, srv.URL, func(c *Config) { c.Timeout = time.Minute })
	for _, c := range asrtest.Clips[:2] {
		r, err := run(context.Background(), e, asrtest.Load(t, c))
		if err != nil {
			t.Fatal(err)
		}
		if r.Text != c.Text || len(r.Words) != len(strings.Fields(c.Text)) || r.Words[0].Start < 0.2 {
			t.Errorf("%q: got %+v", c.Text, r)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{verboseTop, verboseNested, `{"text":"x"}`, `{"segments":[{"start":1,"end":0,"text":"a b"}]}`,
		`{"text":"a","words":[{"word":"a","start":1e308,"end":-1e308}]}`, `null`, `[]`} {
		f.Add([]byte(s), 2.0)
	}
	f.Fuzz(func(t *testing.T, body []byte, dur float64) {
		if !(dur >= 0 && dur < 1e6) {
			return
		}
		r, err := parseResponse(body, dur)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v not ErrBadResponse", err)
			}
			return
		}
		prev := 0.0
		for _, w := range r.Words {
			if w.Text == "" || w.Start < prev || w.End < w.Start || w.End > dur || math.IsNaN(w.Start) {
				t.Fatalf("bad word %+v (dur %v) in %+v", w, dur, r)
			}
			prev = w.Start
		}
	})
}
