// Package openai is the asr.Engine for any server that speaks the
// OpenAI-compatible POST /v1/audio/transcriptions API: whisper.cpp's
// server, faster-whisper servers, vLLM, sovereign AI platforms. It is how an
// operator with GPUs gets Whisper-class accuracy and other languages while
// the audio stays on their machines.
//
// Each utterance is buffered while it is spoken (no partial hypotheses: the
// API is not streaming) and sent at Final as one 16-bit WAV file with
// response_format=verbose_json and word + segment timestamp granularities.
// Word times are taken at top level or nested in segments. A server that
// refuses verbose_json (a 4xx naming it) is asked for plain json from then
// on, and word times are then spread over the utterance (Result.Estimated).
//
// Requests time out (Config.Timeout), 5xx/429/timeouts/transport errors are
// retried with exponential backoff and full jitter, and at most
// Config.Concurrency requests are in flight: a meeting's tracks queue for a
// slot but never wait past their context.
package openai

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/asr"
)

var (
	// ErrHTTP reports a non-retryable HTTP error status (the text has it).
	ErrHTTP = errors.New("openai: server error")
	// ErrBadResponse reports a response body that is not the API's JSON.
	ErrBadResponse = errors.New("openai: malformed response")
)

// Config configures the engine.
type Config struct {
	// BaseURL of the server, with or without the /v1 suffix:
	// "http://gpu1:8000" and "http://gpu1:8000/v1" both post to
	// http://gpu1:8000/v1/audio/transcriptions.
	BaseURL string
	// Model name as the server knows it ("whisper-1", "large-v3").
	Model string
	// APIKey, sent as a Bearer token when set.
	APIKey string
	// Language is the ISO-639-1 code of the speech ("en", "fr"); empty lets
	// the server detect it.
	Language string
	// Timeout bounds one HTTP attempt (default 60 s: a Whisper large model on
	// a loaded GPU takes seconds per minute of audio).
	Timeout time.Duration
	// Retries after the first attempt (default 3; negative: none).
	Retries int
	// Backoff is the first retry delay, doubled on each retry up to 8x,
	// with full jitter (default 250 ms).
	Backoff time.Duration
	// Concurrency bounds requests in flight (default 4).
	Concurrency int
	// MaxUtterance bounds the audio buffered for one request in seconds
	// (default 300: 9.6 MB of WAV, under the 25 MB limit of OpenAI's API).
	MaxUtterance float64
	// Client is the HTTP client (default: a new one; per-attempt timeouts
	// come from Timeout, not from the client).
	Client *http.Client
}

// Engine is the OpenAI-compatible asr.Engine.
type Engine struct {
	cfg      Config
	endpoint string
	sem      chan struct{}
	// plainJSON is set once the server refused verbose_json.
	plainJSON atomic.Bool
	closed    atomic.Bool
	requests  atomic.Int64
}

var _ asr.Engine = (*Engine)(nil)

// New validates cfg.
func New(cfg Config) (*Engine, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: openai base URL %q", asr.ErrConfig, cfg.BaseURL)
	}
	if cfg.Model == "" {
		return nil, fmt.Errorf("%w: openai model is required", asr.ErrConfig)
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, "/v1") {
		p += "/v1"
	}
	u.Path = p + "/audio/transcriptions"
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	} else if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 250 * time.Millisecond
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.MaxUtterance <= 0 {
		cfg.MaxUtterance = 300
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	return &Engine{cfg: cfg, endpoint: u.String(), sem: make(chan struct{}, cfg.Concurrency)}, nil
}

// Name implements asr.Engine.
func (e *Engine) Name() string { return "openai" }

// Requests counts HTTP attempts made (for metrics and tests).
func (e *Engine) Requests() int64 { return e.requests.Load() }

// Close implements asr.Engine; requests in flight finish or fail on their
// own contexts.
func (e *Engine) Close() error {
	e.closed.Store(true)
	e.cfg.Client.CloseIdleConnections()
	return nil
}

// NewStream implements asr.Engine. It never waits: the concurrency limit
// applies when the utterance is sent, at Final.
func (e *Engine) NewStream(ctx context.Context, v *asr.Voice) (asr.Stream, error) {
	if e.closed.Load() {
		return nil, asr.ErrClosed
	}
	s := &stream{e: e, max: int(e.cfg.MaxUtterance * asr.SampleRate)}
	if v != nil {
		s.lang = v.Language
	}
	return s, nil
}

type stream struct {
	e    *Engine
	pcm  []int16
	max  int
	done bool
	lang string // the voice's language, when not the engine's
}

func (s *stream) Write(ctx context.Context, pcm []float32) error {
	if s.done {
		return asr.ErrClosed
	}
	if len(s.pcm)+len(pcm) > s.max {
		return fmt.Errorf("%w: over %.0f s", asr.ErrTooLong, s.e.cfg.MaxUtterance)
	}
	n := len(s.pcm)
	s.pcm = append(s.pcm, make([]int16, len(pcm))...)
	asr.Float32ToInt16(s.pcm[n:], pcm)
	return nil
}

func (s *stream) Partial(ctx context.Context) (string, error) {
	if s.done {
		return "", asr.ErrClosed
	}
	return "", nil
}

func (s *stream) Close() error {
	s.done = true
	s.pcm = nil
	return nil
}

func (s *stream) Final(ctx context.Context) (asr.Result, error) {
	if s.done {
		return asr.Result{}, asr.ErrClosed
	}
	s.done = true
	pcm := s.pcm
	s.pcm = nil
	if len(pcm) == 0 {
		return asr.Result{}, nil
	}
	return s.e.transcribe(ctx, pcm, s.lang)
}

// Transcribe sends one utterance of 16 kHz 16-bit mono PCM and returns the
// recognition with times relative to its first sample.
func (e *Engine) Transcribe(ctx context.Context, pcm []int16) (asr.Result, error) {
	return e.transcribe(ctx, pcm, "")
}

// transcribe is Transcribe in language lang ("": the engine's).
func (e *Engine) transcribe(ctx context.Context, pcm []int16, lang string) (asr.Result, error) {
	if e.closed.Load() {
		return asr.Result{}, asr.ErrClosed
	}
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return asr.Result{}, fmt.Errorf("%w (%d requests in flight): %v", asr.ErrBusy, e.cfg.Concurrency, ctx.Err())
	}
	defer func() { <-e.sem }()

	wav := encodeWAV(pcm)
	dur := float64(len(pcm)) / asr.SampleRate
	var lastErr error
	for attempt := 0; attempt <= e.cfg.Retries; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, e.backoff(attempt)); err != nil {
				return asr.Result{}, fmt.Errorf("openai: %w (last error: %v)", err, lastErr)
			}
		}
		plain := e.plainJSON.Load()
		body, status, err := e.post(ctx, wav, plain, lang)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return asr.Result{}, fmt.Errorf("openai: %w", ctx.Err())
			}
			lastErr = err // timeout or transport error: retry
			continue
		case status == http.StatusOK:
			return parseResponse(body, dur)
		case status >= 500 || status == http.StatusTooManyRequests:
			lastErr = fmt.Errorf("%w: %d %s", ErrHTTP, status, snippet(body))
			continue
		case !plain && status >= 400 && refusesVerbose(body):
			// Not an attempt that failed: the same request in a form the
			// server accepts. Later utterances skip verbose_json.
			e.plainJSON.Store(true)
			attempt--
			continue
		default:
			return asr.Result{}, fmt.Errorf("%w: %d %s", ErrHTTP, status, snippet(body))
		}
	}
	return asr.Result{}, fmt.Errorf("openai: gave up after %d attempts: %w", e.cfg.Retries+1, lastErr)
}

// backoff is full jitter (AWS architecture blog, "Exponential Backoff And
// Jitter"): uniform in [0, base·2^(n-1)], capped at 8·base, so retries of
// many tracks after a server restart do not arrive in lockstep.
func (e *Engine) backoff(attempt int) time.Duration {
	d := e.cfg.Backoff << min(attempt-1, 3)
	return time.Duration(rand.Int64N(int64(d) + 1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxBody bounds the response read: a transcript of 5 minutes of speech
// with word times is well under 1 MB.
const maxBody = 8 << 20

func (e *Engine) post(ctx context.Context, wav []byte, plain bool, lang string) ([]byte, int, error) {
	e.requests.Add(1)
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="utterance.wav"`)
	h.Set("Content-Type", "audio/wav")
	fw, _ := mw.CreatePart(h)
	fw.Write(wav)
	mw.WriteField("model", e.cfg.Model)
	if lang == "" {
		lang = e.cfg.Language
	}
	if lang != "" {
		mw.WriteField("language", lang)
	}
	if plain {
		mw.WriteField("response_format", "json")
	} else {
		mw.WriteField("response_format", "verbose_json")
		mw.WriteField("timestamp_granularities[]", "segment")
		mw.WriteField("timestamp_granularities[]", "word")
	}
	mw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, &buf)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	if e.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.cfg.APIKey)
	}
	resp, err := e.cfg.Client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, 0, err
	}
	return body, resp.StatusCode, nil
}

func refusesVerbose(body []byte) bool {
	b := strings.ToLower(string(body))
	return strings.Contains(b, "verbose_json") || strings.Contains(b, "timestamp_granularities")
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// encodeWAV wraps 16 kHz mono 16-bit PCM in a canonical 44-byte RIFF header.
func encodeWAV(pcm []int16) []byte {
	data := len(pcm) * 2
	b := make([]byte, 44+data)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], asr.SampleRate)
	binary.LittleEndian.PutUint32(b[28:], asr.SampleRate*2)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return b
}
