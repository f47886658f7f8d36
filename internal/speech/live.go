package speech

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/audio"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/internal/transcript"
)

// The live pipeline of a server. Service implements room.Speech: a room
// that turns transcription on gets a meeting (room.LiveTranscript), and
// each audio track it attaches gets a tap on the SFU track whose consumer
// is a feed: RTP → reorder and Opus decode on the meeting clock (Track
// Decoder) → Track (VAD, recogniser, captions, commits), all on the tap's
// one goroutine. The tap's bounded packet queue is the only queue of a
// track, and its drop counter the only drop counter: when recognition
// falls behind the tap drops (never the forwarding path), and the feed
// tells the Track, which counts the lost seconds and notes them in the
// transcript.
//
// Goroutines: the taps' (owned by the SFU; each meeting waits for its
// taps' Done when it ends) and one per ending meeting, counted in
// Service.finishing, which Close waits for.
//
// Lock order: meeting.mu before Service.mu; neither is held while calling
// the store, the engine, the SFU or the room.

// LiveConfig configures a server's live speech pipeline.
type LiveConfig struct {
	Engine asr.Engine
	Store  Store
	// NewCutter makes the per-track VAD (default NewVAD).
	NewCutter func() Cutter
	// TapQueue bounds each track's packets waiting for recognition
	// (default 1000: 20 s of 20 ms Opus, ~100 KB). 20 s is what the
	// pipeline tolerated before it had one queue (10 s of packets, then
	// 10 s of audio): a recogniser starved of CPU for that long, or a
	// decoder that is still loading when someone starts talking, loses
	// nothing.
	TapQueue int
	// CloseTimeout bounds how long an ended meeting waits for the
	// utterances in flight (default 30 s).
	CloseTimeout time.Duration
	// SpoolDir holds shared-microphone audio until it is diarized after
	// the meeting (default: the system's temporary directory).
	SpoolDir string
	// Finisher runs after a meeting's transcription has ended and every
	// segment is committed (shared-microphone diarization); optional.
	Finisher Finisher
	Logger   *slog.Logger
	// Registerer receives the pipeline's metrics (optional).
	Registerer prometheus.Registerer
}

// Store is what live transcription needs of the store.
type Store interface {
	SegmentStore
	CreateMeeting(ctx context.Context, m transcript.Meeting) error
}

// SharedMic is one stretch of a shared microphone's audio, spooled to
// disk for diarization after the meeting.
type SharedMic struct {
	Spool     *audio.Spool
	SpeakerID string // the participant whose track it is
	Name      string
	Speakers  int // people sharing it; 0: estimate
}

// Finisher does what follows a meeting's transcription once every segment
// is committed; it is called for every meeting, with its shared
// microphones (maybe none). It owns the spools it is given (and removes
// them).
type Finisher interface {
	FinishMeeting(ctx context.Context, meetingID string, mics []SharedMic)
}

// Service is a server's live speech pipeline.
type Service struct {
	cfg LiveConfig
	log *slog.Logger

	finishing sync.WaitGroup
	pending   atomic.Int32 // meetings ended but not finished

	mu       sync.Mutex
	meetings map[*meeting]bool // started, not yet finished
	closed   bool
	ended    Stats      // counters of finished meetings
	decoders TrackStats // packet counters of finished feeds
}

var _ room.Speech = (*Service)(nil)

// NewService creates the live pipeline.
func NewService(cfg LiveConfig) (*Service, error) {
	if cfg.Engine == nil || cfg.Store == nil {
		return nil, errors.New("speech: live pipeline needs an engine and a store")
	}
	if cfg.NewCutter == nil {
		cfg.NewCutter = NewVAD
	}
	if cfg.TapQueue <= 0 {
		cfg.TapQueue = 1000
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = 30 * time.Second
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = os.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, log: cfg.Logger, meetings: map[*meeting]bool{}}
	if r := cfg.Registerer; r != nil {
		r.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_transcribed_tracks", Help: "Audio tracks being transcribed now."},
				func() float64 { return float64(s.Stats().Tracks) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_speech_dropped_seconds_total", Help: "Audio the speech pipeline dropped because recognition fell behind (captions lag; forwarding is never slowed)."},
				func() float64 { return s.Stats().DroppedSeconds }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_transcript_segments_total", Help: "Final transcript segments committed to the store."},
				func() float64 { return float64(s.Stats().Segments) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_speech_errors_total", Help: "Recognition or store errors in the speech pipeline."},
				func() float64 { return float64(s.Stats().Errors) }),
		)
	}
	return s, nil
}

// Start implements room.Speech: it creates the meeting's transcript and
// returns its live transcription.
func (s *Service) Start(ctx context.Context, info room.MeetingInfo, captions room.CaptionSink) (room.LiveTranscript, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	tm := transcript.Meeting{ID: info.ID, Title: info.Title, Started: info.Started}
	if err := s.cfg.Store.CreateMeeting(ctx, tm); err != nil {
		return nil, err
	}
	m := &meeting{svc: s, info: tm, captions: captions, feeds: map[string]*feed{}, log: s.log.With("meeting", info.ID)}
	sess, err := NewSession(Config{Meeting: tm, Engine: s.cfg.Engine, Store: s.cfg.Store, Sink: m,
		NewCutter: s.cfg.NewCutter, Logger: m.log})
	if err != nil {
		return nil, err
	}
	m.sess = sess
	s.mu.Lock()
	s.meetings[m] = true
	s.mu.Unlock()
	return m, nil
}

// Stats sums the counters of every meeting, transcribed now or finished.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	total := s.ended
	live := make([]*meeting, 0, len(s.meetings))
	for m := range s.meetings {
		live = append(live, m)
	}
	s.mu.Unlock()
	for _, m := range live {
		st := m.sess.Stats()
		total.Tracks += st.Tracks
		total.DroppedSeconds += st.DroppedSeconds
		total.Segments += st.Segments
		total.Utterances += st.Utterances
		total.Errors += st.Errors
	}
	return total
}

// DecoderStats sums the packet counters of the feeds that have ended.
func (s *Service) DecoderStats() TrackStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.decoders
}

// Busy reports whether a meeting is being transcribed, or finishing its
// last utterances.
func (s *Service) Busy(meetingID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for m := range s.meetings {
		if m.info.ID == meetingID {
			return true
		}
	}
	return false
}

// Pending returns how many ended meetings are still finishing their last
// utterances (or their post-processing).
func (s *Service) Pending() int { return int(s.pending.Load()) }

// Close refuses new meetings and waits until every ended meeting has
// finished (each within its own CloseTimeout), or ctx ends.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.finishing.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) addDecoderStats(st TrackStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &s.decoders
	d.Packets += st.Packets
	d.Decoded += st.Decoded
	d.Duplicates += st.Duplicates
	d.Late += st.Late
	d.Lost += st.Lost
	d.Concealed += st.Concealed
	d.DecodeErrors += st.DecodeErrors
	d.Reanchors += st.Reanchors
	d.Empty += st.Empty
}

// meeting is one meeting's live transcription.
type meeting struct {
	svc      *Service
	info     transcript.Meeting
	sess     *Session
	captions room.CaptionSink
	log      *slog.Logger

	mu    sync.Mutex
	feeds map[string]*feed // attached now, by track id
	all   []*feed          // every feed ever attached
	mics  []SharedMic      // shared-microphone stretches that ended
	ended bool
}

var _ room.LiveTranscript = (*meeting)(nil)

// Caption implements Sink: captions go to the room.
func (m *meeting) Caption(c Caption) {
	m.captions.Caption(room.Caption{SpeakerID: c.SpeakerID, SpeakerName: c.SpeakerName, Text: c.Text, Final: c.Final, Start: c.Start, End: c.End})
}

// Attach implements room.LiveTranscript.
func (m *meeting) Attach(t *sfu.Track, sp room.Speaker) {
	if t.Kind() != "audio" {
		return
	}
	m.mu.Lock()
	if m.ended || m.feeds[t.ID()] != nil {
		m.mu.Unlock()
		return
	}
	f := &feed{m: m, trackID: t.ID(), speaker: sp, ready: make(chan struct{})}
	m.feeds[t.ID()] = f
	m.all = append(m.all, f)
	m.mu.Unlock()
	defer close(f.ready)
	if err := f.open(t); err != nil {
		m.log.Error("speech: track not transcribed", "track", t.ID(), "speaker", sp.ID, "err", err)
		m.mu.Lock()
		if m.feeds[t.ID()] == f {
			delete(m.feeds, t.ID())
		}
		m.mu.Unlock()
		return
	}
	f.tap.Store(t.AddTap(f, 0, m.svc.cfg.TapQueue))
}

// Detach implements room.LiveTranscript: the track's tap stops taking
// packets now (or as soon as its Attach has finished).
func (m *meeting) Detach(trackID string) {
	m.mu.Lock()
	f := m.feeds[trackID]
	delete(m.feeds, trackID)
	m.mu.Unlock()
	if f == nil {
		return
	}
	select {
	case <-f.ready:
		f.stop()
	default:
		m.svc.finishing.Go(func() {
			<-f.ready
			f.stop()
		})
	}
}

// noteKinds maps the room's control events to the transcript's.
var noteKinds = map[room.NoteKind]transcript.EventKind{
	room.NoteTranscriptionOn:  transcript.TranscriptionOn,
	room.NoteTranscriptionOff: transcript.TranscriptionOff,
	room.NoteOptOut:           transcript.OptOut,
	room.NoteOptIn:            transcript.OptIn,
	room.NoteJoined:           transcript.Joined,
	room.NoteLeft:             transcript.Left,
}

// Note implements room.LiveTranscript.
func (m *meeting) Note(n room.Note) error {
	kind, ok := noteKinds[n.Kind]
	if !ok {
		return fmt.Errorf("speech: unknown note kind %d", n.Kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.sess.AddEvent(ctx, transcript.Event{At: n.At, Kind: kind, SpeakerID: n.Speaker.ID, Speaker: n.Speaker.Name}); err != nil {
		return fmt.Errorf("speech: %s event not stored: %w", kind, err)
	}
	return nil
}

// End implements room.LiveTranscript: every tap stops now; the meeting
// finishes in the background (Service.Close waits for it).
func (m *meeting) End() {
	m.mu.Lock()
	if m.ended {
		m.mu.Unlock()
		return
	}
	m.ended = true
	feeds := m.all
	m.feeds = map[string]*feed{}
	m.mu.Unlock()
	s := m.svc
	s.pending.Add(1)
	s.finishing.Go(func() {
		defer s.pending.Add(-1)
		m.finish(feeds)
	})
}

// finish waits for the taps to deliver what they hold, closes the
// session (cancelling recognition at the deadline), then hands the
// shared-microphone audio to the Finisher.
func (m *meeting) finish(feeds []*feed) {
	s := m.svc
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseTimeout)
	defer cancel()
	for _, f := range feeds {
		<-f.ready
		f.stop()
	}
	for _, f := range feeds {
		if tap := f.tap.Load(); tap != nil {
			select {
			case <-tap.Done():
			case <-ctx.Done():
			}
		}
	}
	if err := m.sess.Close(ctx); err != nil {
		m.log.Error("speech: meeting closed before its last utterances were recognised", "err", err)
	}
	// Recognition is over or cancelled: the taps end at once now.
	for _, f := range feeds {
		if tap := f.tap.Load(); tap != nil {
			<-tap.Done()
		}
	}
	m.mu.Lock()
	mics := m.mics
	m.mics = nil
	m.mu.Unlock()
	if s.cfg.Finisher != nil {
		s.cfg.Finisher.FinishMeeting(ctx, m.info.ID, mics)
	} else {
		for _, mic := range mics {
			mic.Spool.Remove()
		}
	}
	st := m.sess.Stats()
	s.mu.Lock()
	delete(s.meetings, m)
	s.ended.DroppedSeconds += st.DroppedSeconds
	s.ended.Segments += st.Segments
	s.ended.Utterances += st.Utterances
	s.ended.Errors += st.Errors
	s.mu.Unlock()
}

// newSpool opens the spool file of a shared-microphone track.
func (m *meeting) newSpool(trackID string) (*audio.Spool, error) {
	dir := filepath.Join(m.svc.cfg.SpoolDir, m.info.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return audio.CreateSpool(filepath.Join(dir, fmt.Sprintf("%s-%d.pcm", trackID, time.Now().UnixNano())))
}

// feed is the consumer end of one track's tap.
type feed struct {
	m       *meeting
	trackID string
	speaker room.Speaker
	ready   chan struct{} // closed when Attach has finished with it
	tap     atomic.Pointer[sfu.Tap]

	// Owned by the tap's goroutine after Attach.
	dec      *TrackDecoder
	track    *Track
	spool    *audio.Spool // shared microphone: audio kept for diarization
	speakers int
	seen     uint64 // tap drops already told to the track
	once     sync.Once
}

var _ sfu.Consumer = (*feed)(nil)

// open prepares the feed's decoder, transcript track and spool.
func (f *feed) open(t *sfu.Track) error {
	dec, err := NewTrackDecoder(f.m.info.Started, 0)
	if err != nil {
		return err
	}
	track, err := f.m.sess.AddTrack(f.speaker.ID, f.speaker.Name)
	if err != nil {
		return err
	}
	f.dec, f.track = dec, track
	if t.SharedMic() {
		f.speakers = t.Speakers()
		if f.spool, err = f.m.newSpool(t.ID()); err != nil {
			f.m.log.Error("speech: shared microphone not spooled; it will not be diarized", "track", t.ID(), "err", err)
		}
	}
	return nil
}

func (f *feed) stop() {
	if tap := f.tap.Load(); tap != nil {
		tap.Stop()
	}
}

// ConsumeRTP implements sfu.Consumer.
func (f *feed) ConsumeRTP(p *rtp.Packet, arrival time.Time) {
	if tap := f.tap.Load(); tap != nil {
		if d := tap.Dropped(); d > f.seen {
			// Packets the tap had no room for, just before this one.
			per := int64(SampleRate / 50) // 20 ms, Opus's usual frame
			if n, err := audio.OpusPacketSamples(p.Payload); err == nil && n > 0 {
				per = int64(n) * SampleRate / 48000
			}
			f.track.Skip(arrival.Sub(f.m.info.Started).Seconds(), int64(d-f.seen)*per)
			f.seen = d
		}
	}
	for _, c := range f.dec.Push(p, arrival) {
		f.write(c)
	}
	for _, c := range f.dec.Tick(arrival) {
		f.write(c)
	}
}

func (f *feed) write(c Chunk) {
	f.track.Write(c.Start, c.PCM)
	if f.spool != nil {
		if err := f.spool.Write(c.Start, c.PCM); err != nil {
			f.m.log.Error("speech: spool write; diarization of this track abandoned", "err", err)
			f.spool.Remove()
			f.spool = nil
		}
	}
}

// Close implements sfu.Consumer: the decoder's last audio is recognised
// and committed, and a shared microphone's spool is kept for the
// meeting's end.
func (f *feed) Close() {
	f.once.Do(func() {
		for _, c := range f.dec.Flush() {
			f.write(c)
		}
		f.track.Close()
		m := f.m
		m.mu.Lock()
		if m.feeds[f.trackID] == f {
			delete(m.feeds, f.trackID)
		}
		if f.spool != nil {
			m.mics = append(m.mics, SharedMic{Spool: f.spool, SpeakerID: f.speaker.ID, Name: f.speaker.Name, Speakers: f.speakers})
		}
		m.mu.Unlock()
		m.svc.addDecoderStats(f.dec.Stats())
	})
}
