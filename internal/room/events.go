package room

import (
	"time"

	"github.com/parleyhq/parley/internal/sfu"
)

// An Event is something the room tells a participant's client: a plain
// Go value. Each event type is one server message of the signalling
// protocol (docs/protocol.md), but its name on the wire and its JSON are
// the signal package's business, which encodes events with one type
// switch. The unexported method closes the set: only this package defines
// events, so the signal package's tests can list them all and check that
// each is encoded.
type Event interface{ event() }

// ParticipantInfo describes a participant to the others.
type ParticipantInfo struct {
	ID         string
	Name       string
	JoinedAt   time.Time
	HandRaised bool
	Connected  bool
	// TranscriptionOptOut: this participant's audio is not transcribed.
	TranscriptionOptOut bool
	Role                string
	Guest               bool // not signed in
}

// Joined answers a successful join.
type Joined struct {
	ParticipantID string
	Room          string
	ResumeToken   string
	Participants  []ParticipantInfo
	Tracks        []sfu.Info
	ICEServers    []sfu.ICEServer
	ActiveSpeaker string
	Resumed       bool
	MeetingID     string
	// MeetingStarted is the wall-clock time of meeting time 0: caption
	// and transcript times are seconds from it.
	MeetingStarted time.Time
	// Transcription tells a newcomer at once whether the meeting is
	// being transcribed (consent: nobody speaks unaware).
	Transcription          TranscriptionState
	TranscriptionAvailable bool
	// Recording, likewise, tells a newcomer whether the meeting is
	// recorded.
	Recording          RecordingState
	RecordingAvailable bool
	// MeetingKey lets this browser read the meeting's record afterwards
	// (empty on a resume: the browser has it).
	MeetingKey string
	Role       string // this participant's
	Settings   Settings
	// Lobby is who waits to be admitted (moderators only).
	Lobby []LobbyEntry
}

// Published confirms one of the participant's own tracks and gives its
// server id.
type Published struct {
	ClientTrackID string
	Track         sfu.Info
}

// ParticipantJoined announces a newcomer.
type ParticipantJoined struct {
	Participant ParticipantInfo
}

// ParticipantLeft announces a departure.
type ParticipantLeft struct {
	ParticipantID string
	Reason        string
}

// ParticipantUpdated carries a changed participant (hand, connection).
type ParticipantUpdated struct {
	Participant ParticipantInfo
}

// TrackPublished announces a track others now receive.
type TrackPublished struct {
	Track sfu.Info
}

// TrackUnpublished announces a track that ended.
type TrackUnpublished struct {
	TrackID       string
	ParticipantID string
}

// TrackUpdated carries a changed track (muted).
type TrackUpdated struct {
	Track sfu.Info
}

// ActiveSpeaker names who is speaking loudest now ("" for nobody) and
// everyone speaking.
type ActiveSpeaker struct {
	ParticipantID string
	Speaking      []string
}

// Chat is a chat message, as every participant receives it.
type Chat struct {
	ID            string
	ParticipantID string
	Name          string
	Text          string
	Time          time.Time
}

// Reaction is a short-lived emoji from a participant.
type Reaction struct {
	ParticipantID string
	Emoji         string
}

// Layers tells the publisher of a simulcast track which of its layers
// (rids) to send: the others nobody watches (sfu/layers.go).
type Layers struct {
	TrackID string
	RIDs    []string
}

// Bye tells a client the server ends its session.
type Bye struct {
	Reason string
}

func (Joined) event()             {}
func (Published) event()          {}
func (ParticipantJoined) event()  {}
func (ParticipantLeft) event()    {}
func (ParticipantUpdated) event() {}
func (TrackPublished) event()     {}
func (TrackUnpublished) event()   {}
func (TrackUpdated) event()       {}
func (ActiveSpeaker) event()      {}
func (Chat) event()               {}
func (Reaction) event()           {}
func (Bye) event()                {}
func (Layers) event()             {}

// Reasons in ParticipantLeft and Bye.
const (
	ReasonLeft           = "left"
	ReasonConnectionLost = "connection_lost"
	ReasonShutdown       = "server_shutdown"
	ReasonReplaced       = "replaced" // the session resumed on another socket
	// ReasonMoved: this node drains and the meeting goes on at another
	// one; the client joins again (its join answer names that node).
	ReasonMoved = "moved"
)
