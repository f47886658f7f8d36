package room

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/sfu"
)

// ErrTranscriptionUnavailable means the server runs without a speech
// engine (or store), so rooms cannot be transcribed.
var ErrTranscriptionUnavailable = errors.New("transcription is not available on this server")

// Speech is the live speech pipeline as a room sees it (package speech
// implements it). The room decides what is transcribed — consent, who
// opted out — and the pipeline does the rest: decoding, recognition,
// captions, the transcript.
type Speech interface {
	// Start begins the transcription of a meeting: it creates the
	// meeting's transcript (store I/O, so never called under a room
	// lock) and sends live captions to captions.
	Start(ctx context.Context, m MeetingInfo, captions CaptionSink) (LiveTranscript, error)
}

// LiveTranscript is one meeting's transcription while it is on. Its
// methods return without waiting for recognition.
type LiveTranscript interface {
	// Attach starts transcribing an audio track spoken by speaker; a
	// track already attached is left as it is.
	Attach(t *sfu.Track, speaker Speaker)
	// Detach stops transcribing a track; what was said until now is
	// still recognised and committed.
	Detach(trackID string)
	// Note records a control event in the transcript, so readers know
	// what was not transcribed and why. It returns when the event is
	// stored: a consent record that failed must not be taken for kept.
	Note(n Note) error
	// End ends the transcription: the utterances in flight are finished
	// and committed in the background, then the meeting's post-processing
	// (shared microphones) runs.
	End()
}

// CaptionSink receives live captions; Caption must not block.
type CaptionSink interface {
	Caption(Caption)
}

// MeetingInfo identifies a meeting's transcript.
type MeetingInfo struct {
	ID      string
	Title   string
	Started time.Time // wall clock of meeting time 0
}

// Speaker is who speaks on a transcribed track.
type Speaker struct {
	ID   string // participant id
	Name string
}

// NoteKind is the kind of a transcript control event.
type NoteKind int

// Control events of a transcript.
const (
	NoteTranscriptionOn NoteKind = iota + 1
	NoteTranscriptionOff
	NoteOptOut // Speaker's audio is no longer transcribed
	NoteOptIn  // … and is again
	NoteJoined // Speaker came into the meeting (while transcribed)
	NoteLeft   // … and left it
)

// Note is a control event: what happened, when (meeting-clock seconds)
// and who did it or whom it concerns.
type Note struct {
	Kind    NoteKind
	At      float64
	Speaker Speaker
}

// TranscriptionState tells clients whether the meeting is transcribed.
type TranscriptionState struct {
	Enabled   bool
	By        string // participant id
	ByName    string
	MeetingID string
	// Since is meeting-clock seconds when it was turned on.
	Since float64
	// Error says why transcription stopped on its own (a consent record
	// could not be stored); empty otherwise.
	Error string
}

// TranscriptionChanged is sent to everyone when transcription starts or
// stops, and reflected in every join.
type TranscriptionChanged struct {
	TranscriptionState
}

// Caption is a live caption: a partial hypothesis while someone speaks
// (Final false, replaced by later captions of the same speaker and
// Start), then the final text. A final caption with empty Text retracts
// the partial. Start and End are meeting-clock seconds.
type Caption struct {
	SpeakerID   string
	SpeakerName string
	Text        string
	Final       bool
	Start       float64
	End         float64
}

func (TranscriptionChanged) event() {}
func (Caption) event()              {}

// meetingClock returns seconds since the meeting (room) started.
func (r *Room) meetingClock() float64 { return time.Since(r.createdAt).Seconds() }

// SetTranscription turns live transcription of the room on or off. by is
// the participant who asked (nil for the API). Changes are serialised by
// r.trOp, which is held across the store I/O of starting; r.mu never is.
func (r *Room) SetTranscription(enabled bool, by *Participant) error {
	sp := r.m.opts.Speech
	if sp == nil {
		return ErrTranscriptionUnavailable
	}
	if r.Edge() {
		return ErrEdge
	}
	r.trOp.Lock()
	defer r.trOp.Unlock()
	r.mu.Lock()
	closed, same, policy := r.closed, enabled == r.transcribing, r.settings.TranscriptionBy
	r.mu.Unlock()
	if by != nil {
		if by.Waiting() {
			return ErrNotAdmitted
		}
		if policy == ByModerators && !by.Identity().moderates() {
			return fmt.Errorf("%w: only moderators turn transcription on or off in this room", ErrNotAllowed)
		}
	}
	switch {
	case closed:
		return ErrRoomClosed
	case same:
		return nil
	}
	now := r.meetingClock()
	state := TranscriptionState{Enabled: enabled, MeetingID: r.meetingID}
	var who Speaker
	if by != nil {
		state.By, state.ByName = by.id, by.name
		who = Speaker{ID: by.id, Name: by.name}
	}
	if enabled {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		live, err := sp.Start(ctx, MeetingInfo{ID: r.meetingID, Title: r.id, Started: r.createdAt.UTC()}, r)
		cancel()
		if err != nil {
			return fmt.Errorf("transcription: %w", err)
		}
		state.Since = now
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			live.End()
			return ErrRoomClosed
		}
		r.transcribing, r.live, r.trState = true, live, state
		var audio []*sfu.Track
		for _, t := range r.tracks {
			if t.Kind() == "audio" {
				audio = append(audio, t)
			}
		}
		r.mu.Unlock()
		err = live.Note(Note{Kind: NoteTranscriptionOn, At: now, Speaker: who})
		for _, p := range r.everyone() {
			if p.OptedOut() && err == nil {
				err = live.Note(Note{Kind: NoteOptOut, At: now, Speaker: Speaker{ID: p.id, Name: p.name}})
			}
		}
		if err != nil {
			r.consentLostLocked(err)
			return ErrConsent
		}
		for _, t := range audio {
			r.transcribe(t)
		}
	} else {
		r.mu.Lock()
		live := r.live
		r.transcribing, r.live, r.trState = false, nil, state
		r.mu.Unlock()
		if live != nil {
			if err := live.Note(Note{Kind: NoteTranscriptionOff, At: now, Speaker: who}); err != nil {
				// Transcription is off all the same; the transcript
				// just lacks the line that says so.
				r.log.Error("transcription-off event not stored", "err", err)
			}
			live.End()
		}
	}
	action := "transcription_off"
	if enabled {
		action = "transcription_on"
	}
	r.audit(by, action, r.meetingID)
	if r.m.opts.Transcribed != nil {
		r.m.opts.Transcribed(r.id, enabled)
	}
	r.broadcast(TranscriptionChanged{state})
	r.log.Info("transcription", "enabled", enabled, "by", state.By, "meeting", r.meetingID)
	return nil
}

// consentLostLocked turns transcription off because a consent record
// (transcription on, an opt-out or opt-in) could not be stored, and tells
// everyone why: a meeting is never transcribed on a consent the record
// does not show. r.trOp is held.
func (r *Room) consentLostLocked(err error) {
	r.log.Error("consent record not stored: transcription turned off", "err", err)
	r.mu.Lock()
	live := r.live
	state := TranscriptionState{MeetingID: r.meetingID, Error: "consent_not_recorded"}
	r.transcribing, r.live, r.trState = false, nil, state
	r.mu.Unlock()
	if live != nil {
		live.End()
	}
	r.audit(nil, "transcription_off", "consent record not stored")
	if r.m.opts.Transcribed != nil {
		r.m.opts.Transcribed(r.id, false)
	}
	r.broadcast(TranscriptionChanged{state})
}

// Transcription returns the room's transcription state.
func (r *Room) Transcription() TranscriptionState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.trState
}

// MeetingID is the id of this room's meeting (its transcript).
func (r *Room) MeetingID() string { return r.meetingID }

// liveTranscript returns the transcription in progress, or nil.
func (r *Room) liveTranscript() LiveTranscript {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live
}

// transcribe attaches one audio track to the transcription if the room
// is transcribed and its owner has not opted out.
func (r *Room) transcribe(t *sfu.Track) {
	owner := r.participant(t.Owner().ID())
	if owner == nil || owner.OptedOut() || t.Kind() != "audio" {
		return
	}
	if live := r.liveTranscript(); live != nil {
		live.Attach(t, Speaker{ID: owner.id, Name: owner.name})
	}
}

// untranscribe detaches a participant's tracks from the transcription.
func (r *Room) untranscribe(ownerID string) {
	live := r.liveTranscript()
	if live == nil {
		return
	}
	for _, t := range r.Tracks() {
		if t.Owner().ID() == ownerID {
			live.Detach(t.ID())
		}
	}
}

func (r *Room) participant(id string) *Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.participants[id]
}

// Caption implements CaptionSink: the caption goes to everyone who has
// captions on. Called from the pipeline's goroutines; never blocks.
func (r *Room) Caption(c Caption) {
	for _, p := range r.everyone() {
		if p.WantsCaptions() {
			p.send(c)
		}
	}
	r.mu.Lock()
	watch := r.captionWatch
	r.mu.Unlock()
	if watch != nil {
		watch(c)
	}
}

// SetSharedMic marks one of the participant's tracks as a microphone
// several people share (a meeting-room system): after the meeting its
// transcript segments are diarized and labelled "<name> · speaker N".
func (p *Participant) SetSharedMic(trackID string, shared bool, speakers int) error {
	t, ok := p.Peer().Track(trackID)
	if !ok {
		return ErrUnknownTrack
	}
	if !t.SetSharedMic(shared, speakers) {
		return nil
	}
	r := p.room
	r.broadcast(TrackUpdated{Track: t.Info()})
	if rec := r.liveRecording(); rec != nil && shared {
		rec.SharedMic(t.ID())
	}
	// A transcribed track is attached again, so that the audio kept for
	// diarization is exactly the shared stretch.
	if live := r.liveTranscript(); live != nil {
		live.Detach(t.ID())
		r.transcribe(t)
	}
	return nil
}

// ErrRoomClosed is returned for operations on a room that has ended.
var ErrRoomClosed = errors.New("room has ended")

// noteAttendance writes in the transcript, when the meeting is
// transcribed, that p came in or left. Unlike the consent records, a
// failure here is only logged: it tells readers who was there, it
// records no one's choice.
func (r *Room) noteAttendance(kind NoteKind, p *Participant) {
	if live := r.liveTranscript(); live != nil {
		noteAttendance(r, live, kind, p)
	}
}

func noteAttendance(r *Room, live LiveTranscript, kind NoteKind, p *Participant) {
	if err := live.Note(Note{Kind: kind, At: r.meetingClock(), Speaker: Speaker{ID: p.id, Name: p.name}}); err != nil {
		r.log.Warn("attendance not written in the transcript", "participant", p.id, "err", err)
	}
}
