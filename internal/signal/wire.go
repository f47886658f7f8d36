package signal

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/sfu"
)

// This file is the server's half of the wire format: one struct per
// server message type, "type" always the first field, and encode, the one
// function that turns the room's events (plain Go values) into them. The
// session builds its own replies (answer, offer, error, pong) from the
// same structs. testdata/out holds one golden file per type.

// Server message types. offer, answer, chat, reaction and transcription
// share their names with the client messages they answer or mirror.
const (
	TypeJoined             = "joined"
	TypePublished          = "published"
	TypeParticipantJoined  = "participant_joined"
	TypeParticipantLeft    = "participant_left"
	TypeParticipantUpdated = "participant_updated"
	TypeTrackPublished     = "track_published"
	TypeTrackUnpublished   = "track_unpublished"
	TypeTrackUpdated       = "track_updated"
	TypeActiveSpeaker      = "active_speaker"
	TypeCaption            = "caption"
	TypeBye                = "bye"
	TypeError              = "error"
	TypePong               = "pong"
	// TypeLobby tells a knocker to wait; TypeLobbyChanged gives
	// moderators the waiting list.
	TypeLobby           = "lobby"
	TypeLobbyChanged    = "lobby_changed"
	TypeModerated       = "moderated"
	TypeSettingsChanged = "room_settings"
	TypeLayers          = "layers"
)

// participantInfo is room.ParticipantInfo on the wire. The two types have
// the same fields, so a Go conversion turns one into the other and a field
// added to one and not the other stops the build.
type participantInfo struct {
	ID                  string    `json:"id"`
	Name                string    `json:"name"`
	JoinedAt            time.Time `json:"joined_at"`
	HandRaised          bool      `json:"hand_raised"`
	Connected           bool      `json:"connected"`
	TranscriptionOptOut bool      `json:"transcription_opt_out"`
	Role                string    `json:"role"`
	Guest               bool      `json:"guest"`
}

// trackInfo is sfu.Info on the wire (converted like participantInfo).
type trackInfo struct {
	ID        string   `json:"id"`
	OwnerID   string   `json:"participant_id"`
	Kind      string   `json:"kind"`
	Source    string   `json:"source"`
	Codec     string   `json:"codec"`
	Simulcast []string `json:"simulcast,omitempty"`
	Muted     bool     `json:"muted"`
	SharedMic bool     `json:"shared_mic,omitempty"`
	Speakers  int      `json:"speakers,omitempty"`
}

// TranscriptionState is room.TranscriptionState on the wire: the body of
// the "transcription" message, the "transcription" field of "joined", and
// what the REST API answers about a room's transcription.
type TranscriptionState struct {
	Enabled   bool    `json:"enabled"`
	By        string  `json:"by,omitempty"`
	ByName    string  `json:"by_name,omitempty"`
	MeetingID string  `json:"meeting_id"`
	Since     float64 `json:"since,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// RecordingState is room.RecordingState on the wire: the body of the
// "recording" message and the "recording" field of "joined".
type RecordingState struct {
	Enabled bool    `json:"enabled"`
	By      string  `json:"by,omitempty"`
	ByName  string  `json:"by_name,omitempty"`
	Since   float64 `json:"since,omitempty"`
}

type recordingMsg struct {
	Type string `json:"type"`
	RecordingState
}

// Transcription converts a room's transcription state for the wire.
func Transcription(s room.TranscriptionState) TranscriptionState { return TranscriptionState(s) }

type joinedMsg struct {
	Type                   string             `json:"type"`
	ParticipantID          string             `json:"participant_id"`
	Room                   string             `json:"room"`
	ResumeToken            string             `json:"resume_token"`
	Participants           []participantInfo  `json:"participants"`
	Tracks                 []trackInfo        `json:"tracks"`
	ICEServers             []iceServer        `json:"ice_servers"`
	ActiveSpeaker          string             `json:"active_speaker,omitempty"`
	Resumed                bool               `json:"resumed,omitempty"`
	MeetingID              string             `json:"meeting_id"`
	MeetingStarted         time.Time          `json:"meeting_started"`
	Transcription          TranscriptionState `json:"transcription"`
	TranscriptionAvailable bool               `json:"transcription_available"`
	Recording              RecordingState     `json:"recording"`
	RecordingAvailable     bool               `json:"recording_available"`
	MeetingKey             string             `json:"meeting_key,omitempty"`
	Role                   string             `json:"role"`
	Settings               settings           `json:"settings"`
	Lobby                  []lobbyEntry       `json:"lobby,omitempty"`
}

// settings is room.Settings on the wire (converted like participantInfo).
type settings struct {
	Access          string `json:"access"`
	Locked          bool   `json:"locked"`
	TranscriptionBy string `json:"transcription_by"`
	SpeakModerated  bool   `json:"speak_moderated"`
}

// lobbyEntry is room.LobbyEntry on the wire.
type lobbyEntry struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Guest bool   `json:"guest"`
}

type lobbyMsg struct {
	Type string `json:"type"`
}

type lobbyChangedMsg struct {
	Type    string       `json:"type"`
	Waiting []lobbyEntry `json:"waiting"`
}

type moderatedMsg struct {
	Type   string `json:"type"`
	Action string `json:"action"`
	By     string `json:"by"`
	ByName string `json:"by_name"`
}

type settingsMsg struct {
	Type string `json:"type"`
	settings
}

type publishedMsg struct {
	Type          string    `json:"type"`
	ClientTrackID string    `json:"client_track_id"`
	Track         trackInfo `json:"track"`
}

// participantMsg is participant_joined and participant_updated.
type participantMsg struct {
	Type        string          `json:"type"`
	Participant participantInfo `json:"participant"`
}

type participantLeftMsg struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
	Reason        string `json:"reason"`
}

// trackMsg is track_published and track_updated.
type trackMsg struct {
	Type  string    `json:"type"`
	Track trackInfo `json:"track"`
}

type layersMsg struct {
	Type    string   `json:"type"`
	TrackID string   `json:"track_id"`
	RIDs    []string `json:"rids"`
}

type trackUnpublishedMsg struct {
	Type          string `json:"type"`
	TrackID       string `json:"track_id"`
	ParticipantID string `json:"participant_id"`
}

type activeSpeakerMsg struct {
	Type          string   `json:"type"`
	ParticipantID string   `json:"participant_id"`
	Speaking      []string `json:"speaking"`
}

type chatMsg struct {
	Type          string    `json:"type"`
	ID            string    `json:"id"`
	ParticipantID string    `json:"participant_id"`
	Name          string    `json:"name"`
	Text          string    `json:"text"`
	Time          time.Time `json:"time"`
}

type reactionMsg struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
	Emoji         string `json:"emoji"`
}

type byeMsg struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// transcriptionMsg carries the state's fields next to "type".
type transcriptionMsg struct {
	Type string `json:"type"`
	TranscriptionState
}

type captionMsg struct {
	Type        string  `json:"type"`
	SpeakerID   string  `json:"speaker_id"`
	SpeakerName string  `json:"speaker_name"`
	Text        string  `json:"text"`
	Final       bool    `json:"final"`
	Start       float64 `json:"start"`
	End         float64 `json:"end"`
}

// answerMsg answers the client's publisher offer; Ref echoes the offer's.
type answerMsg struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
	Ref  string `json:"ref,omitempty"`
}

// offerMsg is a subscriber offer; Mids maps each m-line's mid to the id
// of the track it carries.
type offerMsg struct {
	Type string            `json:"type"`
	SDP  string            `json:"sdp"`
	Mids map[string]string `json:"mids"`
}

// errorMsg reports a failed request; Ref echoes the request's.
type errorMsg struct {
	Type    string `json:"type"`
	Code    Code   `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

type pongMsg struct {
	Type string  `json:"type"`
	TS   float64 `json:"ts"`
}

// encode turns a room event into its JSON message.
func encode(ev room.Event) ([]byte, error) {
	var m any
	switch ev := ev.(type) {
	case room.Joined:
		m = joinedMsg{
			Type: TypeJoined, ParticipantID: ev.ParticipantID, Room: ev.Room, ResumeToken: ev.ResumeToken,
			Participants: participants(ev.Participants), Tracks: tracks(ev.Tracks), ICEServers: iceServers(ev.ICEServers),
			ActiveSpeaker: ev.ActiveSpeaker, Resumed: ev.Resumed, MeetingID: ev.MeetingID, MeetingStarted: ev.MeetingStarted,
			Transcription: Transcription(ev.Transcription), TranscriptionAvailable: ev.TranscriptionAvailable,
			Recording: RecordingState(ev.Recording), RecordingAvailable: ev.RecordingAvailable,
			MeetingKey: ev.MeetingKey, Role: ev.Role, Settings: settings(ev.Settings), Lobby: lobby(ev.Lobby),
		}
	case room.Published:
		m = publishedMsg{Type: TypePublished, ClientTrackID: ev.ClientTrackID, Track: trackInfo(ev.Track)}
	case room.ParticipantJoined:
		m = participantMsg{Type: TypeParticipantJoined, Participant: participantInfo(ev.Participant)}
	case room.ParticipantUpdated:
		m = participantMsg{Type: TypeParticipantUpdated, Participant: participantInfo(ev.Participant)}
	case room.ParticipantLeft:
		m = participantLeftMsg{Type: TypeParticipantLeft, ParticipantID: ev.ParticipantID, Reason: ev.Reason}
	case room.TrackPublished:
		m = trackMsg{Type: TypeTrackPublished, Track: trackInfo(ev.Track)}
	case room.TrackUpdated:
		m = trackMsg{Type: TypeTrackUpdated, Track: trackInfo(ev.Track)}
	case room.TrackUnpublished:
		m = trackUnpublishedMsg{Type: TypeTrackUnpublished, TrackID: ev.TrackID, ParticipantID: ev.ParticipantID}
	case room.ActiveSpeaker:
		m = activeSpeakerMsg{Type: TypeActiveSpeaker, ParticipantID: ev.ParticipantID, Speaking: list(ev.Speaking)}
	case room.Chat:
		m = chatMsg{Type: TypeChat, ID: ev.ID, ParticipantID: ev.ParticipantID, Name: ev.Name, Text: ev.Text, Time: ev.Time}
	case room.Reaction:
		m = reactionMsg{Type: TypeReaction, ParticipantID: ev.ParticipantID, Emoji: ev.Emoji}
	case room.Bye:
		m = byeMsg{Type: TypeBye, Reason: ev.Reason}
	case room.TranscriptionChanged:
		m = transcriptionMsg{Type: TypeTranscription, TranscriptionState: Transcription(ev.TranscriptionState)}
	case room.RecordingChanged:
		m = recordingMsg{Type: TypeRecording, RecordingState: RecordingState(ev.RecordingState)}
	case room.Caption:
		m = captionMsg{Type: TypeCaption, SpeakerID: ev.SpeakerID, SpeakerName: ev.SpeakerName, Text: ev.Text,
			Final: ev.Final, Start: ev.Start, End: ev.End}
	case room.Lobby:
		m = lobbyMsg{Type: TypeLobby}
	case room.LobbyChanged:
		m = lobbyChangedMsg{Type: TypeLobbyChanged, Waiting: lobby(ev.Waiting)}
	case room.Moderated:
		m = moderatedMsg{Type: TypeModerated, Action: ev.Action, By: ev.By, ByName: ev.ByName}
	case room.SettingsChanged:
		m = settingsMsg{Type: TypeSettingsChanged, settings: settings(ev.Settings)}
	case room.Layers:
		m = layersMsg{Type: TypeLayers, TrackID: ev.TrackID, RIDs: list(ev.RIDs)}
	default:
		return nil, fmt.Errorf("no wire message for room event %T", ev)
	}
	return json.Marshal(m)
}

// The lists of a message are JSON arrays, never null: clients iterate
// them without a check.

func participants(ps []room.ParticipantInfo) []participantInfo {
	out := make([]participantInfo, len(ps))
	for i, p := range ps {
		out[i] = participantInfo(p)
	}
	return out
}

func tracks(ts []sfu.Info) []trackInfo {
	out := make([]trackInfo, len(ts))
	for i, t := range ts {
		out[i] = trackInfo(t)
	}
	return out
}

func lobby(es []room.LobbyEntry) []lobbyEntry {
	out := make([]lobbyEntry, len(es))
	for i, e := range es {
		out[i] = lobbyEntry(e)
	}
	return out
}

// iceServer is an entry of RTCConfiguration.iceServers, as the browser
// takes it.
type iceServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

func iceServers(l []sfu.ICEServer) []iceServer {
	out := make([]iceServer, 0, len(l))
	for _, s := range l {
		out = append(out, iceServer{URLs: list(s.URLs), Username: s.Username, Credential: s.Credential})
	}
	return out
}

func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
