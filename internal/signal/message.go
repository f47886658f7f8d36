// Package signal is Parley's signalling protocol over a WebSocket: JSON
// messages with a "type" field (docs/protocol.md), one session per
// connection, every inbound message validated before it reaches a room.
//
// It is the one home of the wire format: client messages are decoded and
// validated here (this file), the room's events are plain Go values that
// wire.go turns into server messages, and the error registry (errors.go)
// gives both the socket's error codes and the REST API's statuses.
// testdata/ holds a golden file per message type.
package signal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/sfu"
)

// MaxMessageSize is the largest inbound message: an SDP offer of a
// browser with many m-lines is ~10-20 KiB, so 64 KiB leaves room while
// bounding what one socket can make the server hold.
const MaxMessageSize = 64 << 10

// Inbound is a client message. One struct holds every type's fields; the
// type's validation says which are required.
type Inbound struct {
	Type string `json:"type"`
	// Ref is the client's id for this request, echoed in an error reply.
	Ref string `json:"ref,omitempty"`

	// Token is the signed join token from POST /api/rooms/{id}/join.
	Token       string `json:"token,omitempty"`
	Room        string `json:"room,omitempty"`
	Name        string `json:"name,omitempty"`
	ResumeToken string `json:"resume_token,omitempty"`
	// Subscribe false joins send-only: no media is sent to this client.
	Subscribe *bool `json:"subscribe,omitempty"`

	SDP       string     `json:"sdp,omitempty"`
	Target    string     `json:"target,omitempty"`
	Candidate *Candidate `json:"candidate,omitempty"`

	TrackID       string   `json:"track_id,omitempty"`
	ClientTrackID string   `json:"client_track_id,omitempty"`
	Kind          string   `json:"kind,omitempty"`
	Source        string   `json:"source,omitempty"`
	Simulcast     []string `json:"simulcast,omitempty"`
	Muted         *bool    `json:"muted,omitempty"`
	Layer         string   `json:"layer,omitempty"`
	Paused        *bool    `json:"paused,omitempty"`
	Raised        *bool    `json:"raised,omitempty"`
	Emoji         string   `json:"emoji,omitempty"`
	Text          string   `json:"text,omitempty"`
	TS            float64  `json:"ts,omitempty"`
	Enabled       *bool    `json:"enabled,omitempty"`
	Shared        *bool    `json:"shared,omitempty"`
	SharedMic     bool     `json:"shared_mic,omitempty"`
	Speakers      int      `json:"speakers,omitempty"`
	OptOut        *bool    `json:"opt_out,omitempty"`
	// moderate: Action on ParticipantID; Value for lock and
	// speak_moderated; Policy for transcription_by.
	Action        string `json:"action,omitempty"`
	ParticipantID string `json:"participant_id,omitempty"`
	Value         *bool  `json:"value,omitempty"`
	Policy        string `json:"policy,omitempty"`
}

// Candidate is an ICE candidate as browsers serialise RTCIceCandidate.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

func (c *Candidate) init() webrtc.ICECandidateInit {
	return webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
}

// Client message types.
const (
	TypeJoin         = "join"
	TypeOffer        = "offer"
	TypeAnswer       = "answer"
	TypeCandidate    = "candidate"
	TypePublish      = "publish"
	TypeUnpublish    = "unpublish"
	TypeMute         = "mute"
	TypeSubscription = "subscription"
	TypeRaiseHand    = "raise_hand"
	TypeReaction     = "reaction"
	TypeChat         = "chat"
	TypeICERestart   = "ice_restart"
	TypeLeave        = "leave"
	TypePing         = "ping"
	// Transcription turns the room's live transcription on or off.
	TypeTranscription = "transcription"
	// TypeOptOut stops (or resumes) transcribing the sender's audio.
	TypeOptOut = "transcription_opt_out"
	// TypeRecording starts or stops the meeting's recording (moderators).
	TypeRecording = "recording"
	// TypeCaptions turns live captions on or off for the sender only.
	TypeCaptions = "captions"
	// TypeSharedMic marks one of the sender's tracks as a microphone that
	// several people share (a meeting room): its transcript is diarized.
	TypeSharedMic = "shared_mic"
	// TypeModerate is a moderator's action (room.Act*).
	TypeModerate = "moderate"
)

var moderatorActions = map[string]bool{"mute": true, "mute_all": true, "stop_camera": true, "stop_screen": true,
	"allow_speak": true, "remove": true, "admit": true, "deny": true, "lock": true, "end": true, "promote": true,
	"demote": true, "transcription_by": true, "speak_moderated": true}

// actionsWithTarget name one participant; admit and deny name one or,
// without participant_id, everyone waiting.
var actionsWithTarget = map[string]bool{"mute": true, "stop_camera": true, "stop_screen": true, "allow_speak": true,
	"remove": true, "promote": true, "demote": true}

var sources = map[string]bool{"microphone": true, "camera": true, "screen": true, "screen_audio": true}

// Decode parses and validates one client message.
func Decode(b []byte) (*Inbound, error) {
	if len(b) > MaxMessageSize {
		return nil, NewError(CodeTooLarge, fmt.Sprintf("message of %d bytes exceeds %d", len(b), MaxMessageSize))
	}
	var m Inbound
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, NewError(CodeMalformed, "not a JSON message: "+trimErr(err))
	}
	if dec.More() {
		return nil, NewError(CodeMalformed, "trailing data after the JSON object")
	}
	if err := m.validate(); err != nil {
		return &m, err
	}
	return &m, nil
}

func trimErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func (m *Inbound) validate() error {
	bad := func(format string, a ...any) error { return NewError(CodeInvalidField, fmt.Sprintf(format, a...)) }
	if len(m.Ref) > 64 {
		return bad("ref longer than 64 bytes")
	}
	switch m.Type {
	case "":
		return NewError(CodeMalformed, `missing "type"`)
	case TypeJoin:
		if m.ResumeToken == "" && m.Token == "" {
			return NewError(CodeNoToken, "join needs a token (POST /api/rooms/{id}/join) or a resume_token")
		}
		if len(m.ResumeToken) > 64 {
			return bad("resume_token too long")
		}
		if len(m.Token) > 2048 {
			return NewError(CodeBadToken, "token too long")
		}
	case TypeOffer, TypeAnswer:
		if strings.TrimSpace(m.SDP) == "" {
			return bad("%s needs sdp", m.Type)
		}
	case TypeCandidate:
		if m.Target != string(sfu.Publisher) && m.Target != string(sfu.Subscriber) {
			return bad(`candidate target must be "publisher" or "subscriber"`)
		}
		if m.Candidate == nil {
			return bad("candidate needs candidate")
		}
		if len(m.Candidate.Candidate) > 1024 {
			return bad("candidate longer than 1024 bytes")
		}
	case TypePublish:
		if m.ClientTrackID == "" || len(m.ClientTrackID) > 128 || !utf8.ValidString(m.ClientTrackID) {
			return bad("publish needs client_track_id (1-128 bytes)")
		}
		if m.Kind != "audio" && m.Kind != "video" {
			return bad(`publish kind must be "audio" or "video"`)
		}
		if m.Source != "" && !sources[m.Source] {
			return bad("unknown source %q", m.Source)
		}
		if m.Speakers < 0 || m.Speakers > 20 {
			return bad("speakers: 0 (unknown) to 20")
		}
		if len(m.Simulcast) > 3 {
			return bad("at most 3 simulcast layers")
		}
		for _, r := range m.Simulcast {
			if r == "" || len(r) > 16 {
				return bad("simulcast rid must be 1-16 bytes")
			}
		}
	case TypeUnpublish:
		if m.TrackID == "" {
			return bad("unpublish needs track_id")
		}
	case TypeMute:
		if m.TrackID == "" || m.Muted == nil {
			return bad("mute needs track_id and muted")
		}
	case TypeSubscription:
		if m.TrackID == "" {
			return bad("subscription needs track_id")
		}
		switch m.Layer {
		case "", "low", "medium", "high":
		default:
			return bad(`layer must be "low", "medium" or "high"`)
		}
	case TypeRaiseHand:
		if m.Raised == nil {
			return bad("raise_hand needs raised")
		}
	case TypeReaction:
		if m.Emoji == "" {
			return bad("reaction needs emoji")
		}
	case TypeChat:
		// Length and emptiness are the room's rule (room.MaxChatLen).
	case TypeTranscription, TypeCaptions, TypeRecording:
		if m.Enabled == nil {
			return bad("%s needs enabled", m.Type)
		}
	case TypeSharedMic:
		if m.TrackID == "" || m.Shared == nil {
			return bad("shared_mic needs track_id and shared")
		}
		if m.Speakers < 0 || m.Speakers > 20 {
			return bad("speakers: 0 (unknown) to 20")
		}
	case TypeOptOut:
		if m.OptOut == nil {
			return bad("transcription_opt_out needs opt_out")
		}
	case TypeModerate:
		if !moderatorActions[m.Action] {
			return bad("unknown moderator action %q", truncate(m.Action, 32))
		}
		if actionsWithTarget[m.Action] && m.ParticipantID == "" {
			return bad("%s needs participant_id", m.Action)
		}
		if len(m.ParticipantID) > 64 {
			return bad("participant_id too long")
		}
		if (m.Action == "lock" || m.Action == "speak_moderated") && m.Value == nil {
			return bad("%s needs value", m.Action)
		}
		if m.Action == "transcription_by" && m.Policy != "everyone" && m.Policy != "moderators" {
			return bad(`transcription_by needs policy "everyone" or "moderators"`)
		}
	case TypeICERestart, TypeLeave, TypePing:
	default:
		return NewError(CodeUnknownType, fmt.Sprintf("unknown message type %q", truncate(m.Type, 32)))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
