package pocketsphinx

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/testkit/asrtest"
)

func newEngine(t *testing.T, pool int) *Engine {
	t.Helper()
	e, err := New(Config{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// decode writes pcm in 100 ms chunks, as the live pipeline does.
func decode(t *testing.T, e asr.Engine, pcm []float32) (asr.Result, []string) {
	t.Helper()
	ctx := context.Background()
	s, err := e.NewStream(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var partials []string
	for i := 0; i < len(pcm); i += 1600 {
		j := min(i+1600, len(pcm))
		if err := s.Write(ctx, pcm[i:j]); err != nil {
			t.Fatal(err)
		}
		p, err := s.Partial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p != "" {
			partials = append(partials, p)
		}
	}
	r, err := s.Final(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r, partials
}

func TestRecognisesRealSpeech(t *testing.T) {
	e := newEngine(t, 1)
	c := asrtest.Clips[0]
	pcm := asrtest.Load(t, c)
	r, partials := decode(t, e, pcm)
	t.Logf("%q -> %q %+v", c.Text, r.Text, r.Words)
	if r.Text != c.Text {
		t.Errorf("text %q, want %q", r.Text, c.Text)
	}
	if len(partials) == 0 {
		t.Error("no partial hypothesis while speaking")
	}
	dur := float64(len(pcm)) / asr.SampleRate
	prev := 0.0
	for _, w := range r.Words {
		if w.Start < prev-1e-9 || w.End < w.Start || w.End > dur+1e-9 {
			t.Errorf("word %+v out of order or outside [0, %.2f]", w, dur)
		}
		prev = w.End
	}
}

// TestWordTimesRebasedPerUtterance decodes two utterances on one decoder
// (pool of 1) and checks the second one's word times equal those a fresh
// decoder gives: pocketsphinx's frame counter runs on across utterances.
func TestWordTimesRebasedPerUtterance(t *testing.T) {
	a := asrtest.Load(t, asrtest.Clips[1])
	b := asrtest.Load(t, asrtest.Clips[2])

	fresh := newEngine(t, 1)
	want, _ := decode(t, fresh, b)

	e := newEngine(t, 1)
	decode(t, e, a)
	got, _ := decode(t, e, b)
	t.Logf("fresh %+v\nreused %+v", want.Words, got.Words)
	if got.Text != want.Text || len(got.Words) != len(want.Words) {
		t.Fatalf("reused decoder %q, fresh %q", got.Text, want.Text)
	}
	for i := range got.Words {
		if math.Abs(got.Words[i].Start-want.Words[i].Start) > 0.02 || math.Abs(got.Words[i].End-want.Words[i].End) > 0.02 {
			t.Errorf("word %d: reused %+v, fresh %+v", i, got.Words[i], want.Words[i])
		}
	}
	// The clip starts with ~0.45 s of silence: the first word cannot start
	// before it nor a second later.
	if len(got.Words) == 0 || got.Words[0].Start < 0.3 || got.Words[0].Start > 1.0 {
		t.Errorf("first word %+v, want start in [0.3, 1.0]", got.Words)
	}
}

func TestPoolBoundedAndWaits(t *testing.T) {
	e := newEngine(t, 1)
	ctx := context.Background()
	s1, err := e.NewStream(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := e.NewStream(short, nil); !errors.Is(err, asr.ErrBusy) {
		t.Fatalf("second stream on a pool of 1: %v, want ErrBusy", err)
	}
	// A waiting stream gets the decoder as soon as it is released.
	got := make(chan error, 1)
	go func() {
		s2, err := e.NewStream(ctx, nil)
		if err == nil {
			s2.Close()
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	s1.Close()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestTooLongAndClosed(t *testing.T) {
	e, err := New(Config{Pool: 1, MaxUtterance: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, _ := e.NewStream(ctx, nil)
	if err := s.Write(ctx, asrtest.Silence(0.4)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, asrtest.Silence(0.2)); !errors.Is(err, asr.ErrTooLong) {
		t.Fatalf("write past the limit: %v", err)
	}
	r, err := s.Final(ctx)
	if err != nil || r.Text != "" {
		t.Fatalf("silence final: %+v %v", r, err)
	}
	if _, err := s.Final(ctx); !errors.Is(err, asr.ErrClosed) {
		t.Fatalf("second Final: %v", err)
	}
	e.Close()
	if _, err := e.NewStream(ctx, nil); !errors.Is(err, asr.ErrClosed) {
		t.Fatalf("NewStream after Close: %v", err)
	}
}

func TestBadModel(t *testing.T) {
	_, err := New(Config{ModelDir: t.TempDir()})
	if !errors.Is(err, asr.ErrConfig) {
		t.Fatalf("missing model: %v", err)
	}
}

func TestCleanText(t *testing.T) {
	got := cleanText("<s> read(2) the [NOISE] ++BREATH++ book <sil> </s>")
	if got != "read the book" {
		t.Fatalf("%q", got)
	}
	if !strings.Contains(cleanWord("zero(3)"), "zero") || cleanWord("zero(3)") != "zero" {
		t.Fatal(cleanWord("zero(3)"))
	}
}

func decodeVoice(t *testing.T, e asr.Engine, pcm []float32, v *asr.Voice) asr.Result {
	t.Helper()
	ctx := context.Background()
	s, err := e.NewStream(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, pcm); err != nil {
		t.Fatal(err)
	}
	r, err := s.Final(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestVoiceIsolatesTracks: a pooled decoder adapts its cepstral mean to
// whatever it decoded last. A track's utterance must be decoded with its
// own voice's mean, not the previous user's: the same utterance gives the
// same words and times whatever the decoder did before.
func TestVoiceIsolatesTracks(t *testing.T) {
	david := asrtest.Load(t, asrtest.Clips[0])
	bridge := asrtest.Load(t, asrtest.Clips[1])
	david2 := asrtest.Load(t, asrtest.Clips[2])

	fresh := newEngine(t, 1)
	var vd asr.Voice
	decodeVoice(t, fresh, david, &vd)
	if st, ok := vd.State.(voiceState); !ok || len(st.cmn) != 13 {
		t.Fatalf("voice state after an utterance: %#v", vd.State)
	}
	want := decodeVoice(t, fresh, david2, &vd)

	e := newEngine(t, 1)
	var vd2, vb asr.Voice
	decodeVoice(t, e, david, &vd2)
	decodeVoice(t, e, bridge, &vb) // another track in between
	got := decodeVoice(t, e, david2, &vd2)
	if got.Text != want.Text || len(got.Words) != len(want.Words) {
		t.Fatalf("after another track: %q, alone: %q", got.Text, want.Text)
	}
	for i := range got.Words {
		if got.Words[i] != want.Words[i] {
			t.Errorf("word %d: %+v, alone %+v", i, got.Words[i], want.Words[i])
		}
	}
}

// TestLazyLoadsOnFirstUtterance: a lazy engine holds no decoder until it
// is used, then recognises like an eager one; a missing model still fails
// at New.
func TestLazyLoadsOnFirstUtterance(t *testing.T) {
	e, err := New(Config{Pool: 1, Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.mu.Lock()
	loaded := len(e.idle)
	e.mu.Unlock()
	if loaded != 0 {
		t.Fatalf("lazy engine loaded %d decoders at New", loaded)
	}
	c := asrtest.Clips[0]
	if r, _ := decode(t, e, asrtest.Load(t, c)); r.Text != c.Text {
		t.Errorf("lazy engine: %q, want %q", r.Text, c.Text)
	}
	if _, err := New(Config{ModelDir: t.TempDir(), Lazy: true}); !errors.Is(err, asr.ErrConfig) {
		t.Errorf("lazy engine with no model: %v", err)
	}
}

// TestWarmLoadsUpToThePool: Warm(n) loads decoders in the background up to
// the pool size, counting those in use, and a stream then starts without
// loading one.
func TestWarmLoadsUpToThePool(t *testing.T) {
	e, err := New(Config{Pool: 2, Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	loaded := func() int {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.idle) + e.busy + e.loading
	}
	e.Warm(5)
	deadline := time.Now().Add(30 * time.Second)
	idle := func() int {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.idle)
	}
	for idle() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a third load would show by now
	if n := loaded(); n != 2 {
		t.Fatalf("Warm(5) with a pool of 2 loaded %d decoders", n)
	}
	s, err := e.NewStream(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := idle(); n != 1 {
		t.Errorf("a stream after Warm left %d idle decoders, want 1 (it took a warm one)", n)
	}
	e.Warm(2) // one in use and one idle: nothing to load
	if n := loaded(); n != 2 {
		t.Errorf("after Warm(2) with one stream open: %d decoders", n)
	}
	s.Close()
}

// TestStreamsDuringWarmDoNotOverload: streams opened while Warm is loading
// wait for its decoders instead of loading more than the pool needs.
func TestStreamsDuringWarmDoNotOverload(t *testing.T) {
	e, err := New(Config{Pool: 3, Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.Warm(3)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := e.NewStream(context.Background(), nil)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			errs <- s.Write(context.Background(), make([]float32, 1600))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Three at most (fewer when a stream ends before the last one starts),
	// and every one back in the pool.
	if e.loads > 3 || len(e.idle) != e.loads {
		t.Errorf("3 streams during Warm(3): %d decoders loaded, %d idle; want at most 3, all idle", e.loads, len(e.idle))
	}
}

// TestIdleDecodersFreed: decoders unused for IdleTimeout are freed, and
// the engine loads one again when speech comes back.
func TestIdleDecodersFreed(t *testing.T) {
	e, err := New(Config{Pool: 2, Lazy: true, IdleTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	idle := func() int {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.idle)
	}
	c := asrtest.Clips[0]
	pcm := asrtest.Load(t, c)
	if r, _ := decode(t, e, pcm); r.Text != c.Text {
		t.Fatalf("first utterance: %q", r.Text)
	}
	if n := idle(); n != 1 {
		t.Fatalf("after one utterance: %d idle decoders, want 1", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for idle() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := idle(); n != 0 {
		t.Fatalf("%d idle decoders kept past the idle timeout", n)
	}
	if r, _ := decode(t, e, pcm); r.Text != c.Text {
		t.Errorf("after the pool was trimmed: %q, want %q", r.Text, c.Text)
	}
}

// TestOtherLanguageRefused: a voice in another language than English is
// refused with ErrConfig (the model is en-us), English or unset is not.
func TestOtherLanguageRefused(t *testing.T) {
	e := newEngine(t, 1)
	if _, err := e.NewStream(context.Background(), &asr.Voice{Language: "fr"}); !errors.Is(err, asr.ErrConfig) {
		t.Fatalf("a French voice: %v", err)
	}
	for _, lang := range []string{"", "en"} {
		s, err := e.NewStream(context.Background(), &asr.Voice{Language: lang})
		if err != nil {
			t.Fatalf("language %q: %v", lang, err)
		}
		s.Close()
	}
}
