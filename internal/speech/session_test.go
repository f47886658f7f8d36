package speech

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/transcript"
)

// levelCutter is a deterministic test VAD: speech is any 10 ms frame with
// a peak above 0.01; speech ends after 300 ms without such a frame. The
// pipeline's own behaviour (clock, gaps, drops, flushing) is what these
// tests check; the real VAD is exercised in the integration tests.
type levelCutter struct {
	n, lastSpeech int64
	in            bool
	frame         []float32
}

func (c *levelCutter) Flush() []Boundary {
	if c.in {
		c.in = false
		return []Boundary{{At: c.lastSpeech}}
	}
	return nil
}

func (c *levelCutter) Write(pcm []float32) []Boundary {
	var out []Boundary
	for _, s := range pcm {
		c.frame = append(c.frame, s)
		if len(c.frame) < 160 {
			continue
		}
		peak := float32(0)
		for _, v := range c.frame {
			peak = max(peak, float32(math.Abs(float64(v))))
		}
		start := c.n
		c.n += 160
		c.frame = c.frame[:0]
		if peak > 0.01 {
			if !c.in {
				c.in = true
				out = append(out, Boundary{Start: true, At: start})
			}
			c.lastSpeech = c.n
		} else if c.in && c.n-c.lastSpeech >= 4800 {
			c.in = false
			out = append(out, Boundary{At: c.lastSpeech})
		}
	}
	return out
}

// spanEngine "recognises" an utterance as one word per 100 ms run of
// non-silent audio, so tests can check what audio reached the engine and
// where its words land on the meeting clock.
type spanEngine struct {
	mu      sync.Mutex
	block   chan struct{} // when non-nil, Write waits on it
	entered chan struct{} // when non-nil, told (without waiting) of each Write that waits
	streams int
}

func (e *spanEngine) Name() string { return "span" }
func (e *spanEngine) Close() error { return nil }
func (e *spanEngine) NewStream(ctx context.Context, _ *asr.Voice) (asr.Stream, error) {
	e.mu.Lock()
	e.streams++
	e.mu.Unlock()
	return &spanStream{e: e}, nil
}

type spanStream struct {
	e   *spanEngine
	pcm []float32
}

func (s *spanStream) Write(ctx context.Context, pcm []float32) error {
	if s.e.block != nil {
		select {
		case s.e.entered <- struct{}{}:
		default:
		}
		select {
		case <-s.e.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.pcm = append(s.pcm, pcm...)
	return nil
}
func (s *spanStream) Partial(context.Context) (string, error) {
	return fmt.Sprintf("p%d", len(s.pcm)/1600), nil
}
func (s *spanStream) Close() error { return nil }
func (s *spanStream) Final(context.Context) (asr.Result, error) {
	// One word covering the loud samples.
	first, last := -1, -1
	for i, v := range s.pcm {
		if math.Abs(float64(v)) > 0.01 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return asr.Result{}, nil
	}
	w := asr.Word{Text: "tone", Start: float64(first) / 16000, End: float64(last+1) / 16000}
	return asr.Result{Text: "tone", Words: []asr.Word{w}}, nil
}

type captions struct {
	mu sync.Mutex
	cs []Caption
}

func (c *captions) Caption(x Caption) {
	c.mu.Lock()
	c.cs = append(c.cs, x)
	c.mu.Unlock()
}

func (c *captions) all() []Caption {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Caption(nil), c.cs...)
}

func tone(sec float64) []float32 {
	p := make([]float32, int(math.Round(sec*16000)))
	for i := range p {
		p[i] = 0.2 * float32(math.Sin(float64(i)*2*math.Pi*300/16000))
	}
	return p
}

func newSession(t *testing.T, e asr.Engine, sink Sink, mod func(*Config)) (*Session, *transcript.Memory) {
	t.Helper()
	mem := &transcript.Memory{}
	cfg := Config{Meeting: transcript.Meeting{ID: "m"}, Engine: e, Store: mem, Sink: sink,
		NewCutter: func() Cutter { return &levelCutter{} }}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, mem
}

// writeChunks writes pcm as 20 ms chunks from meeting time start.
func writeChunks(tr *Track, start float64, pcm []float32) {
	for i := 0; i < len(pcm); i += 320 {
		tr.Write(start+float64(i)/16000, pcm[i:min(i+320, len(pcm))])
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.02 }

// TestMeetingClockAcrossGaps: the track's audio arrives with a gap of
// silence-free loss (200 ms, filled) and a long mute (30 s, VAD restarted);
// every segment lands at its meeting time.
func TestMeetingClockAcrossGaps(t *testing.T) {
	s, mem := newSession(t, &spanEngine{}, nil, nil)
	tr, err := s.AddTrack("p1", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	// 10.0-10.5 silence, 10.5-11.5 tone, 11.5-12.0 silence.
	writeChunks(tr, 10, append(append(make([]float32, 8000), tone(1)...), make([]float32, 8000)...))
	// Lost 200 ms, then tone 12.2-12.8 and 1 s silence.
	writeChunks(tr, 12.2, append(tone(0.6), make([]float32, 16000)...))
	// Muted 30 s (nothing written), then tone at 43.8-44.3.
	writeChunks(tr, 43.8, append(tone(0.5), make([]float32, 8000)...))
	tr.Close()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := mem.Transcript(transcript.Meeting{ID: "m"}).Segments
	want := [][2]float64{{10.5, 11.5}, {12.2, 12.8}, {43.8, 44.3}}
	if len(got) != len(want) {
		t.Fatalf("segments %+v", got)
	}
	for i, w := range want {
		if !near(got[i].Start, w[0]) || !near(got[i].End, w[1]) || got[i].Speaker != "Ada" {
			t.Errorf("segment %d: %+v, want %v", i, got[i], w)
		}
	}
}

// TestCloseFlushesUtteranceInFlight: speech still going on when the track
// closes becomes a final segment.
func TestCloseFlushesUtteranceInFlight(t *testing.T) {
	sink := &captions{}
	s, mem := newSession(t, &spanEngine{}, sink, nil)
	tr, _ := s.AddTrack("p1", "Ada")
	writeChunks(tr, 0, append(make([]float32, 4000), tone(2)...))
	tr.Close()
	<-tr.Done()
	segs := mem.Transcript(transcript.Meeting{}).Segments
	if len(segs) != 1 || !near(segs[0].Start, 0.25) || !near(segs[0].End, 2.25) {
		t.Fatalf("%+v", segs)
	}
	cs := sink.all()
	if len(cs) < 2 || cs[len(cs)-1].Final != true || cs[len(cs)-1].Text != "tone" || cs[0].Final {
		t.Fatalf("captions %+v", cs)
	}
	for _, c := range cs[:len(cs)-1] {
		if c.SpeakerName != "Ada" || !strings.HasPrefix(c.Text, "p") || !near(c.Start, 0.25-0.3+0.05) && c.Start > 0.25 {
			t.Errorf("partial %+v", c)
		}
	}
	s.Close(context.Background())
}

// TestOverlappingTracksStayApart: two speakers talking over each other give
// two segments, each with its own name.
func TestOverlappingTracksStayApart(t *testing.T) {
	s, mem := newSession(t, &spanEngine{}, nil, nil)
	a, _ := s.AddTrack("p1", "Ada")
	b, _ := s.AddTrack("p2", "Bob")
	var wg sync.WaitGroup
	wg.Go(func() { writeChunks(a, 0, append(tone(2), make([]float32, 8000)...)) })
	wg.Go(func() { writeChunks(b, 1, append(tone(2), make([]float32, 8000)...)) })
	wg.Wait()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	segs := mem.Transcript(transcript.Meeting{}).Segments
	if len(segs) != 2 || segs[0].Speaker != "Ada" || segs[1].Speaker != "Bob" || !near(segs[1].Start, 1) {
		t.Fatalf("%+v", segs)
	}
}

// TestSkippedAudioIsNoted: audio lost before the track (its tap's queue
// was full while the engine stalled) is counted, and each run of it
// becomes one event in the transcript at the time it was lost.
func TestSkippedAudioIsNoted(t *testing.T) {
	s, mem := newSession(t, &spanEngine{}, nil, nil)
	tr, _ := s.AddTrack("p1", "Ada")
	writeChunks(tr, 0, make([]float32, 16000))
	// 2 s lost in 20 ms packets between 1.0 and 3.0, reported as they are
	// found (one Skip per packet the tap had to drop): one run.
	for i := 1; i <= 100; i++ {
		tr.Skip(1+float64(i)*0.02, 320)
	}
	writeChunks(tr, 3, make([]float32, 32000)) // audio flows again for 2 s
	tr.Skip(8, 8000)                           // a second run: 7.5-8.0
	writeChunks(tr, 8, make([]float32, 1600))
	if d := tr.Dropped(); math.Abs(d-2.5) > 1e-9 {
		t.Fatalf("dropped %.3f s, want 2.5", d)
	}
	if st := s.Stats(); math.Abs(st.DroppedSeconds-2.5) > 1e-9 || st.Tracks != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ev := mem.Transcript(transcript.Meeting{}).Events
	if len(ev) != 2 || ev[0].Kind != transcript.AudioDropped || ev[0].SpeakerID != "p1" || !near(ev[0].At, 1.0) || ev[0].Detail != "2.0 s" ||
		!near(ev[1].At, 7.5) || ev[1].Detail != "0.5 s" {
		t.Fatalf("events %+v", ev)
	}
}

// TestCloseDeadlineCancelsAndNoLeak: a session whose engine hangs while
// its tracks are being written (each on its own goroutine, as taps do)
// still closes when the caller's deadline passes; the writers return and
// no goroutine is left.
func TestCloseDeadlineCancelsAndNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	eng := &spanEngine{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	s, _ := newSession(t, eng, nil, nil)
	var writers sync.WaitGroup
	for i := range 5 {
		tr, _ := s.AddTrack(fmt.Sprint(i), "x")
		writers.Go(func() { writeChunks(tr, 0, tone(1)) })
	}
	select { // the engine hangs before Close is called
	case <-eng.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no write reached the engine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.AddTrack("late", "x"); err != ErrClosed {
		t.Fatalf("AddTrack after Close: %v", err)
	}
	writers.Wait()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before", n, before)
	}
}

// TestMaxUtteranceCuts: speech with no pause is cut into bounded pieces.
func TestMaxUtteranceCuts(t *testing.T) {
	s, mem := newSession(t, &spanEngine{}, nil, func(c *Config) { c.MaxUtterance = 2 })
	tr, _ := s.AddTrack("p1", "Ada")
	if err := tr.Feed(context.Background(), 0, tone(5)); err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())
	segs := mem.Transcript(transcript.Meeting{}).Segments
	if len(segs) != 3 || !near(segs[2].End, 5) {
		t.Fatalf("%+v", segs)
	}
	for _, g := range segs {
		if g.End-g.Start > 2.01 {
			t.Errorf("segment %+v longer than 2 s", g)
		}
	}
}
