package room

import (
	"errors"
	"fmt"

	"github.com/parleyhq/parley/internal/sfu"
)

// ErrRecordingUnavailable means the server runs without a recorder.
var ErrRecordingUnavailable = errors.New("recording is not available on this server")

// Recorder records meetings, one file per track (package record
// implements it). The room decides when and what: moderators start and
// stop, everyone is told; the recorder writes.
type Recorder interface {
	// StartRecording begins (or, after a pause, resumes) the recording of
	// a meeting; it does file I/O, so it is never called under a room
	// lock.
	StartRecording(m MeetingInfo, by Speaker) (LiveRecording, error)
	// MeetingEnded says a meeting is over (its room closed), recorded or
	// not; it must not block.
	MeetingEnded(m MeetingInfo)
}

// LiveRecording is one meeting's recording while it is on. Its methods
// return without waiting for media to be written.
type LiveRecording interface {
	// Attach starts recording a track of a participant; Person is the
	// same for one person across reconnections (their identity).
	Attach(t *sfu.Track, who Speaker, person string)
	// Detach stops recording a track (it ended, or its owner left).
	Detach(trackID string)
	// Muted notes that a track was muted or unmuted: a gap.
	Muted(trackID string, muted bool)
	// SharedMic notes that a track's microphone is shared by several
	// people (its transcript is diarized).
	SharedMic(trackID string)
	// End stops the recording and writes its manifest; by is who stopped
	// it (zero when the meeting ended).
	End(by Speaker)
}

// RecordingState tells clients whether the meeting is recorded.
type RecordingState struct {
	Enabled bool
	By      string // participant id
	ByName  string
	// Since is meeting-clock seconds when it was turned on.
	Since float64
}

// RecordingChanged is sent to everyone when recording starts or stops,
// and reflected in every join (nobody is recorded unaware).
type RecordingChanged struct {
	RecordingState
}

func (RecordingChanged) event() {}

// SetRecording starts or stops the recording of the room's meeting. Only
// moderators (in open mode, the room's creator) may. Changes are
// serialised by r.recOp, held across the recorder's file I/O; r.mu never
// is.
func (r *Room) SetRecording(enabled bool, by *Participant) error {
	rc := r.m.opts.Recorder
	if rc == nil {
		return ErrRecordingUnavailable
	}
	if r.Edge() {
		return ErrEdge
	}
	if by != nil {
		if by.Waiting() {
			return ErrNotAdmitted
		}
		if !by.Identity().moderates() {
			return fmt.Errorf("%w: only moderators start or stop recording", ErrNotAllowed)
		}
	}
	r.recOp.Lock()
	defer r.recOp.Unlock()
	r.mu.Lock()
	closed, same := r.closed, enabled == (r.rec != nil)
	r.mu.Unlock()
	switch {
	case closed:
		return ErrRoomClosed
	case same:
		return nil
	}
	var who Speaker
	state := RecordingState{Enabled: enabled}
	if by != nil {
		who = Speaker{ID: by.id, Name: by.name}
		state.By, state.ByName = by.id, by.name
	}
	if enabled {
		rec, err := rc.StartRecording(MeetingInfo{ID: r.meetingID, Title: r.id, Started: r.createdAt.UTC()}, who)
		if err != nil {
			return fmt.Errorf("recording: %w", err)
		}
		state.Since = r.meetingClock()
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			rec.End(who)
			return ErrRoomClosed
		}
		r.rec, r.recState = rec, state
		tracks := make([]*sfu.Track, 0, len(r.tracks))
		for _, t := range r.tracks {
			tracks = append(tracks, t)
		}
		r.mu.Unlock()
		for _, t := range tracks {
			r.record(t)
		}
	} else {
		r.mu.Lock()
		rec := r.rec
		r.rec, r.recState = nil, state
		r.mu.Unlock()
		rec.End(who)
	}
	action := "recording_off"
	if enabled {
		action = "recording_on"
	}
	r.audit(by, action, r.meetingID)
	r.broadcast(RecordingChanged{state})
	r.log.Info("recording", "enabled", enabled, "by", state.By, "meeting", r.meetingID)
	return nil
}

// Recording returns the room's recording state.
func (r *Room) Recording() RecordingState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recState
}

func (r *Room) liveRecording() LiveRecording {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rec
}

// record attaches a track to the recording, if the room is recorded.
func (r *Room) record(t *sfu.Track) {
	rec := r.liveRecording()
	if rec == nil {
		return
	}
	owner := r.participant(t.Owner().ID())
	if owner == nil {
		return
	}
	rec.Attach(t, Speaker{ID: owner.id, Name: owner.name}, owner.Identity().Subject)
}

// SetRecording starts or stops the recording of the participant's room.
func (p *Participant) SetRecording(on bool) error { return p.room.SetRecording(on, p) }
