package speech

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/transcript"
)

// A Session transcribes one meeting: one Track per audio track, each
// processed on the goroutine that writes it (see Track). The session owns
// no goroutine of its own; Close closes the tracks and waits for their
// last utterances, cancelling recognition when its deadline passes.
//
// Lock order: Session.mu is never held while a Track's mu is taken, nor
// while calling the engine, the store or the sink.

// SampleRate is the rate of the audio a Track takes: 16 kHz mono.
const SampleRate = asr.SampleRate

// Caption is a live caption: a partial hypothesis while someone speaks
// (Final false, replaced by later captions of the same speaker and Start),
// then the final text. A final caption with empty Text retracts the partial
// (the engine heard no words).
type Caption struct {
	SpeakerID   string
	SpeakerName string
	Text        string
	Final       bool
	Start, End  float64 // meeting-clock seconds
}

// Sink receives captions. It is called from the tracks' goroutines,
// concurrently, and must not block (queue and return).
type Sink interface {
	Caption(Caption)
}

// SegmentStore is where final segments are committed as they are produced.
// store.SQLite implements it; so does transcript.Memory.
type SegmentStore interface {
	PutSpeaker(ctx context.Context, meetingID string, s transcript.Speaker) error
	AppendSegment(ctx context.Context, meetingID string, seg transcript.Segment) (int64, error)
	AppendEvent(ctx context.Context, meetingID string, e transcript.Event) error
}

var _ SegmentStore = (*transcript.Memory)(nil)

// Cutter is a streaming voice activity detector: Write consumes the next
// samples of one track and returns the utterance boundaries decided so far,
// as sample offsets from its first sample (they may lie in the past: the
// pipeline keeps 3 s of audio). Flush ends the input and closes an open
// region. NewVAD (audio/vad) is the real one.
type Cutter interface {
	Write(pcm []float32) []Boundary
	Flush() []Boundary
}

// Boundary is a speech start or end at a sample offset of a Cutter's input.
type Boundary struct {
	Start bool  // true: speech starts; false: speech ends
	At    int64 // samples since the Cutter's first sample
}

// Config configures a Session.
type Config struct {
	Meeting transcript.Meeting
	Engine  asr.Engine
	Store   SegmentStore // required: the transcript is the point
	Sink    Sink         // optional: nil means no live captions
	// Language, when set, is what every track speaks, if not the
	// engine's configured language (an upload in another language).
	Language string
	Logger   *slog.Logger // optional
	// NewCutter makes one VAD per track (and again after a long gap).
	// Default NewVAD.
	NewCutter func() Cutter
	// PartialEvery is the audio between partial hypotheses (default 0.5 s:
	// pocketsphinx's ps_get_hyp costs ~1 ms, captions feel live at 2/s).
	PartialEvery float64
	// MaxUtterance forces a cut of longer speech (default 30 s): a
	// caption line and an ASR request stay bounded even if the VAD never
	// hears a pause.
	MaxUtterance float64
	// PreRoll is the audio before a detected speech start that is sent to
	// the engine (default 0.3 s): the first phoneme's onset is quieter than
	// the VAD's threshold.
	PreRoll float64
	// GapFill: gaps in a track's audio up to this long (seconds; default
	// 1.0) are filled with silence (packet loss, DTX); longer ones (mute)
	// end the utterance and restart the VAD at the new audio.
	GapFill float64
}

func (c *Config) defaults() error {
	if c.Engine == nil || c.Store == nil {
		return errors.New("speech: session needs an engine and a store")
	}
	if c.NewCutter == nil {
		c.NewCutter = NewVAD
	}
	if c.Meeting.ID == "" {
		return errors.New("speech: session needs a meeting id")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.PartialEvery <= 0 {
		c.PartialEvery = 0.5
	}
	if c.MaxUtterance <= 0 {
		c.MaxUtterance = 30
	}
	if c.PreRoll <= 0 {
		c.PreRoll = 0.3
	}
	if c.GapFill <= 0 {
		c.GapFill = 1.0
	}
	return nil
}

// Stats are a session's counters, for Prometheus.
type Stats struct {
	Tracks         int     // tracks open now
	DroppedSeconds float64 // audio lost because recognition fell behind (Track.Skip)
	Utterances     int64   // utterances recognised
	Segments       int64   // segments committed
	Errors         int64   // engine or store errors
}

// Session transcribes one meeting's tracks.
type Session struct {
	cfg    Config
	ctx    context.Context // cancelled by Close when its deadline passes
	cancel context.CancelFunc

	mu     sync.Mutex
	tracks map[*Track]bool
	closed bool

	dropped    atomic.Int64 // samples
	utterances atomic.Int64
	segments   atomic.Int64
	errs       atomic.Int64
}

// ErrClosed is returned by a Session or Track used after Close.
var ErrClosed = errors.New("speech: closed")

// NewSession starts transcribing a meeting. The meeting itself must exist in
// the store when it has such a notion (store.SQLite: CreateMeeting first).
func NewSession(cfg Config) (*Session, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Session{cfg: cfg, ctx: ctx, cancel: cancel, tracks: map[*Track]bool{}}, nil
}

// AddTrack starts transcribing one participant's audio track. A participant
// who leaves and rejoins gets a new Track with the same speaker id.
func (s *Session) AddTrack(speakerID, speakerName string) (*Track, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if err := s.cfg.Store.PutSpeaker(s.ctx, s.cfg.Meeting.ID, transcript.Speaker{ID: speakerID, Name: speakerName}); err != nil {
		return nil, fmt.Errorf("speech: add track: %w", err)
	}
	t := newTrack(s, speakerID, speakerName)
	s.tracks[t] = true
	if w, ok := s.cfg.Engine.(asr.Warmer); ok {
		w.Warm(len(s.tracks))
	}
	return t, nil
}

// untrack forgets a closed track.
func (s *Session) untrack(t *Track) {
	s.mu.Lock()
	delete(s.tracks, t)
	s.mu.Unlock()
}

// AddEvent commits a control event (transcription on/off, opt-out) so the
// transcript tells readers what was not transcribed.
func (s *Session) AddEvent(ctx context.Context, e transcript.Event) error {
	return s.cfg.Store.AppendEvent(ctx, s.cfg.Meeting.ID, e)
}

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	n := len(s.tracks)
	s.mu.Unlock()
	return Stats{
		Tracks:         n,
		DroppedSeconds: float64(s.dropped.Load()) / SampleRate,
		Utterances:     s.utterances.Load(),
		Segments:       s.segments.Load(),
		Errors:         s.errs.Load(),
	}
}

// Close closes every track still open, each flushing its utterance in
// flight, and waits for them: when it returns nil every final segment is
// committed. If ctx ends first, recognition in progress is cancelled (its
// words are lost) and ctx's error is returned once every track is closed.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	tracks := make([]*Track, 0, len(s.tracks))
	for t := range s.tracks {
		tracks = append(tracks, t)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range tracks {
		wg.Go(t.Close)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.cancel()
		<-done
	}
	s.cancel()
	return err
}

func (s *Session) logger() *slog.Logger { return s.cfg.Logger }

func (s *Session) commit(seg transcript.Segment) {
	// The store call is bounded: a stuck database must not hold the track
	// forever (SQLite's busy_timeout is 5 s).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	if _, err := s.cfg.Store.AppendSegment(ctx, s.cfg.Meeting.ID, seg); err != nil {
		s.errs.Add(1)
		s.logger().Error("speech: segment not stored", "meeting", s.cfg.Meeting.ID, "speaker", seg.SpeakerID, "start", seg.Start, "err", err)
		return
	}
	s.segments.Add(1)
}

func (s *Session) event(e transcript.Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	if err := s.cfg.Store.AppendEvent(ctx, s.cfg.Meeting.ID, e); err != nil {
		s.errs.Add(1)
		s.logger().Error("speech: event not stored", "meeting", s.cfg.Meeting.ID, "kind", e.Kind, "err", err)
	}
}

func (s *Session) caption(c Caption) {
	if s.cfg.Sink != nil {
		s.cfg.Sink.Caption(c)
	}
}
