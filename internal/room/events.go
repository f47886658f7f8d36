package room

import (
	"time"

	"github.com/parleyhq/parley/internal/sfu"
)

// An Event is something the room tells a participant's client. Each event
// type is one message type of the signalling protocol (docs/protocol.md);
// the signal package adds the "type" field from EventType.
type Event interface{ EventType() string }

// ParticipantInfo describes a participant to the others.
type ParticipantInfo struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	JoinedAt   time.Time `json:"joined_at"`
	HandRaised bool      `json:"hand_raised"`
	Connected  bool      `json:"connected"`
	// TranscriptionOptOut: this participant's audio is not transcribed.
	TranscriptionOptOut bool `json:"transcription_opt_out"`
}

// Joined answers a successful join.
type Joined struct {
	ParticipantID string            `json:"participant_id"`
	Room          string            `json:"room"`
	ResumeToken   string            `json:"resume_token"`
	Participants  []ParticipantInfo `json:"participants"`
	Tracks        []sfu.Info        `json:"tracks"`
	ICEServers    []string          `json:"ice_servers"`
	ActiveSpeaker string            `json:"active_speaker,omitempty"`
	Resumed       bool              `json:"resumed,omitempty"`
	MeetingID     string            `json:"meeting_id"`
	// MeetingStarted is the wall-clock time of meeting time 0: caption
	// and transcript times are seconds from it.
	MeetingStarted time.Time `json:"meeting_started"`
	// Transcription tells a newcomer at once whether the meeting is
	// being transcribed (consent: nobody speaks unaware).
	Transcription          TranscriptionState `json:"transcription"`
	TranscriptionAvailable bool               `json:"transcription_available"`
}

// Published confirms one of the participant's own tracks and gives its
// server id.
type Published struct {
	ClientTrackID string   `json:"client_track_id"`
	Track         sfu.Info `json:"track"`
}

// ParticipantJoined announces a newcomer.
type ParticipantJoined struct {
	Participant ParticipantInfo `json:"participant"`
}

// ParticipantLeft announces a departure.
type ParticipantLeft struct {
	ParticipantID string `json:"participant_id"`
	Reason        string `json:"reason"`
}

// ParticipantUpdated carries a changed participant (hand, connection).
type ParticipantUpdated struct {
	Participant ParticipantInfo `json:"participant"`
}

// TrackPublished announces a track others now receive.
type TrackPublished struct {
	Track sfu.Info `json:"track"`
}

// TrackUnpublished announces a track that ended.
type TrackUnpublished struct {
	TrackID       string `json:"track_id"`
	ParticipantID string `json:"participant_id"`
}

// TrackUpdated carries a changed track (muted).
type TrackUpdated struct {
	Track sfu.Info `json:"track"`
}

// ActiveSpeaker names who is speaking loudest now ("" for nobody) and
// everyone speaking.
type ActiveSpeaker struct {
	ParticipantID string   `json:"participant_id"`
	Speaking      []string `json:"speaking"`
}

// Chat is a chat message, as every participant receives it.
type Chat struct {
	ID            string    `json:"id"`
	ParticipantID string    `json:"participant_id"`
	Name          string    `json:"name"`
	Text          string    `json:"text"`
	Time          time.Time `json:"time"`
}

// Reaction is a short-lived emoji from a participant.
type Reaction struct {
	ParticipantID string `json:"participant_id"`
	Emoji         string `json:"emoji"`
}

// Bye tells a client the server ends its session.
type Bye struct {
	Reason string `json:"reason"`
}

func (Joined) EventType() string             { return "joined" }
func (Published) EventType() string          { return "published" }
func (ParticipantJoined) EventType() string  { return "participant_joined" }
func (ParticipantLeft) EventType() string    { return "participant_left" }
func (ParticipantUpdated) EventType() string { return "participant_updated" }
func (TrackPublished) EventType() string     { return "track_published" }
func (TrackUnpublished) EventType() string   { return "track_unpublished" }
func (TrackUpdated) EventType() string       { return "track_updated" }
func (ActiveSpeaker) EventType() string      { return "active_speaker" }
func (Chat) EventType() string               { return "chat" }
func (Reaction) EventType() string           { return "reaction" }
func (Bye) EventType() string                { return "bye" }

// Reasons in ParticipantLeft and Bye.
const (
	ReasonLeft           = "left"
	ReasonConnectionLost = "connection_lost"
	ReasonShutdown       = "server_shutdown"
	ReasonReplaced       = "replaced" // the session resumed on another socket
)
