package room

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/audio"
	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/internal/speech"
	"github.com/parleyhq/parley/internal/transcript"
)

// ErrTranscriptionUnavailable means the server runs without a speech
// engine (or store), so rooms cannot be transcribed.
var ErrTranscriptionUnavailable = errors.New("transcription is not available on this server")

// TranscriptStore is what live transcription needs of the store.
type TranscriptStore interface {
	transcript.SegmentStore
	CreateMeeting(ctx context.Context, m transcript.Meeting) error
	Segments(ctx context.Context, meetingID string) ([]transcript.Segment, error)
	ReplaceSegments(ctx context.Context, meetingID, speakerID string, from, to float64, segs []transcript.Segment) error
}

// Transcription configures live captions and transcripts.
type Transcription struct {
	Engine asr.Engine
	Store  TranscriptStore
	// NewCutter makes the per-track VAD (transcript.NewVAD by default).
	NewCutter func() transcript.Cutter
	// TapQueue bounds each track's packets waiting for the decoder
	// (default 500: 10 s of 20 ms Opus).
	TapQueue int
	// CloseTimeout bounds how long closing a session waits for the
	// utterances in flight (default 30 s).
	CloseTimeout time.Duration
	// SpoolDir holds shared-microphone audio until it is diarized after
	// the meeting (default: the system's temporary directory).
	SpoolDir string
}

// TranscriptionState tells clients whether the meeting is transcribed.
type TranscriptionState struct {
	Enabled   bool   `json:"enabled"`
	By        string `json:"by,omitempty"` // participant id
	ByName    string `json:"by_name,omitempty"`
	MeetingID string `json:"meeting_id"`
	// Since is meeting-clock seconds when it was turned on.
	Since float64 `json:"since,omitempty"`
}

// TranscriptionChanged is sent to everyone when transcription starts or
// stops, and reflected in every join.
type TranscriptionChanged struct {
	TranscriptionState
}

// Caption is a live caption sent to participants who want them.
type Caption struct {
	SpeakerID   string  `json:"speaker_id"`
	SpeakerName string  `json:"speaker_name"`
	Text        string  `json:"text"`
	Final       bool    `json:"final"`
	Start       float64 `json:"start"`
	End         float64 `json:"end"`
}

func (TranscriptionChanged) EventType() string { return "transcription" }
func (Caption) EventType() string              { return "caption" }

// meetingClock returns seconds since the meeting (room) started.
func (r *Room) meetingClock() float64 { return time.Since(r.createdAt).Seconds() }

// SetTranscription turns live transcription of the room on or off. by is
// the participant who asked ("" for the API).
func (r *Room) SetTranscription(enabled bool, by *Participant) error {
	tr := r.m.opts.Transcription
	if tr == nil || tr.Engine == nil || tr.Store == nil {
		return ErrTranscriptionUnavailable
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrRoomClosed
	}
	if enabled == r.transcribing {
		r.mu.Unlock()
		return nil
	}
	now := r.meetingClock()
	state := TranscriptionState{Enabled: enabled, MeetingID: r.meetingID}
	if by != nil {
		state.By, state.ByName = by.id, by.name
	}
	if enabled {
		meeting := transcript.Meeting{ID: r.meetingID, Title: r.id, Started: r.createdAt.UTC()}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := tr.Store.CreateMeeting(ctx, meeting)
		cancel()
		if err != nil {
			r.mu.Unlock()
			return fmt.Errorf("transcription: %w", err)
		}
		newCutter := tr.NewCutter
		if newCutter == nil {
			newCutter = transcript.NewVAD
		}
		sess, err := transcript.NewSession(transcript.Config{Meeting: meeting, Engine: tr.Engine, Store: tr.Store,
			Sink: r, NewCutter: newCutter, Logger: r.log.With("part", "transcript")})
		if err != nil {
			r.mu.Unlock()
			return fmt.Errorf("transcription: %w", err)
		}
		state.Since = now
		r.transcribing, r.session, r.trState = true, sess, state
		var attach []*sfu.Track
		for _, t := range r.tracks {
			if t.Kind() == "audio" {
				attach = append(attach, t)
			}
		}
		r.mu.Unlock()
		sess.AddEvent(context.Background(), transcript.Event{At: now, Kind: transcript.TranscriptionOn, SpeakerID: state.By, Speaker: state.ByName})
		for _, p := range r.everyone() {
			if p.OptedOut() {
				sess.AddEvent(context.Background(), transcript.Event{At: now, Kind: transcript.OptOut, SpeakerID: p.id, Speaker: p.name})
			}
		}
		for _, t := range attach {
			r.transcribe(t)
		}
	} else {
		sess, feeds := r.session, r.feeds
		r.transcribing, r.session, r.feeds, r.trState = false, nil, map[string]*speechFeed{}, state
		r.mu.Unlock()
		for _, f := range feeds {
			f.tap.Close()
		}
		sess.AddEvent(context.Background(), transcript.Event{At: now, Kind: transcript.TranscriptionOff, SpeakerID: state.By, Speaker: state.ByName})
		r.m.closeSession(sess, r)
	}
	r.broadcast(TranscriptionChanged{state})
	r.log.Info("transcription", "enabled", enabled, "by", state.By, "meeting", r.meetingID)
	return nil
}

// Transcription returns the room's transcription state.
func (r *Room) Transcription() TranscriptionState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.trState
}

// MeetingID is the id of this room's meeting (its transcript).
func (r *Room) MeetingID() string { return r.meetingID }

// transcribe attaches the speech pipeline to one audio track if the room
// is transcribed and its owner has not opted out.
func (r *Room) transcribe(t *sfu.Track) {
	owner := r.participant(t.Owner().ID())
	if owner == nil || owner.OptedOut() || t.Kind() != "audio" {
		return
	}
	r.mu.Lock()
	sess := r.session
	if !r.transcribing || sess == nil || r.feeds[t.ID()] != nil {
		r.mu.Unlock()
		return
	}
	dec, err := speech.NewTrackDecoder(r.createdAt, 0)
	if err != nil {
		r.mu.Unlock()
		r.log.Error("speech decoder", "err", err)
		return
	}
	track, err := sess.AddTrack(owner.id, owner.name)
	if err != nil {
		r.mu.Unlock()
		r.log.Error("transcript track", "err", err)
		return
	}
	f := &speechFeed{dec: dec, track: track, owner: owner.id, name: owner.name, m: r.m, room: r}
	if t.SharedMic() {
		f.spool, f.speakers = r.newSpool(t.ID()), t.Speakers()
	}
	r.feeds[t.ID()] = f
	r.mu.Unlock()
	queue := r.m.opts.Transcription.TapQueue
	if queue == 0 {
		queue = 500
	}
	f.tap = t.AddTap(f, 0, queue)
}

// untranscribe detaches the speech pipeline from a participant's tracks.
func (r *Room) untranscribe(ownerID string) {
	r.mu.Lock()
	var stop []*speechFeed
	for id, f := range r.feeds {
		if f.owner == ownerID {
			stop = append(stop, f)
			delete(r.feeds, id)
		}
	}
	r.mu.Unlock()
	for _, f := range stop {
		f.tap.Close()
	}
}

func (r *Room) participant(id string) *Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.participants[id]
}

// Caption implements transcript.Sink: the caption goes to everyone who
// has captions on. Called from the transcript's goroutines; never blocks.
func (r *Room) Caption(c transcript.Caption) {
	ev := Caption{SpeakerID: c.SpeakerID, SpeakerName: c.SpeakerName, Text: c.Text, Final: c.Final, Start: c.Start, End: c.End}
	for _, p := range r.everyone() {
		if p.WantsCaptions() {
			p.send(ev)
		}
	}
}

// speechFeed is the consumer end of a track's tap: RTP → Opus decode on
// the meeting clock → the transcript track (VAD, ASR, captions, store).
// It runs on the tap's goroutine, so decoding never touches forwarding.
type speechFeed struct {
	m        *Manager
	room     *Room
	name     string
	spool    *audio.Spool // shared microphone: audio kept for diarization
	speakers int          // people sharing it, 0 = unknown
	dec      *speech.TrackDecoder
	track    *transcript.Track
	tap      *sfu.Tap
	owner    string
	once     sync.Once
}

var _ sfu.Consumer = (*speechFeed)(nil)

func (f *speechFeed) ConsumeRTP(p *rtp.Packet, arrival time.Time) {
	for _, c := range f.dec.Push(p, arrival) {
		f.write(c)
	}
	for _, c := range f.dec.Tick(arrival) {
		f.write(c)
	}
}

func (f *speechFeed) write(c speech.Chunk) {
	f.track.Write(c.Start, c.PCM)
	if f.spool != nil {
		if err := f.spool.Write(c.Start, c.PCM); err != nil {
			f.room.log.Error("spool write; diarization of this track abandoned", "err", err)
			f.spool.Remove()
			f.spool = nil
		}
	}
}

func (f *speechFeed) Close() {
	f.once.Do(func() {
		for _, c := range f.dec.Flush() {
			f.write(c)
		}
		f.track.Close()
		if f.spool != nil {
			f.room.mu.Lock()
			f.room.spools = append(f.room.spools, spooled{spool: f.spool, speakerID: f.owner, name: f.name, speakers: f.speakers})
			f.room.mu.Unlock()
		}
		st := f.dec.Stats()
		f.m.mu.Lock()
		f.m.decoderStats.Packets += st.Packets
		f.m.decoderStats.Lost += st.Lost
		f.m.decoderStats.Late += st.Late
		f.m.decoderStats.Reanchors += st.Reanchors
		f.m.decoderStats.Concealed += st.Concealed
		f.m.decoderStats.DecodeErrors += st.DecodeErrors
		f.m.mu.Unlock()
	})
}

// TranscriptsPending returns how many ended transcription sessions are
// still finishing their last utterances.
func (m *Manager) TranscriptsPending() int { return int(m.finishing.Load()) }

// DecoderStats sums the packet counters of the speech decoders of
// tracks whose transcription has ended.
func (m *Manager) DecoderStats() speech.TrackStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.decoderStats
}

// closeSession finishes a transcription session in the background: the
// utterances in flight are recognised and committed. Manager.Shutdown
// waits for it.
func (m *Manager) closeSession(sess *transcript.Session, r *Room) {
	if sess == nil {
		return
	}
	timeout := m.opts.Transcription.CloseTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	m.sessions.Add(1)
	m.finishing.Add(1)
	go func() {
		defer m.sessions.Done()
		defer m.finishing.Add(-1)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := sess.Close(ctx); err != nil {
			m.log.Error("transcript session close", "err", err)
		}
		// Every segment is committed: shared microphones can be diarized.
		r.mu.Lock()
		spools := r.spools
		r.spools = nil
		r.mu.Unlock()
		m.diarizeSpools(ctx, r.meetingID, spools)
		st := sess.Stats()
		m.mu.Lock()
		m.closedStats.DroppedSeconds += st.DroppedSeconds
		m.closedStats.Segments += st.Segments
		m.closedStats.Errors += st.Errors
		m.mu.Unlock()
	}()
}

// ErrRoomClosed is returned for operations on a room that has ended.
var ErrRoomClosed = errors.New("room has ended")
