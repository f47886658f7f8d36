package signal

import (
	"errors"
	"net/http"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/sfu"
)

// Code is a stable numeric error code sent in "error" messages. Codes are
// never renumbered; new ones are added at the end of their block.
type Code int

// The registry of error codes, shared by the signalling socket and the
// REST API (docs/protocol.md lists them).
const (
	CodeMalformed       Code = 4000 // not a JSON object with a string "type"
	CodeUnknownType     Code = 4001 // "type" is not a message type
	CodeTooLarge        Code = 4002 // message over 64 KiB
	CodeInvalidField    Code = 4003 // a field is missing or out of range
	CodeNotJoined       Code = 4004 // message needs a join first
	CodeAlreadyJoined   Code = 4005 // second join on one socket
	CodeInvalidRoom     Code = 4006 // room id malformed
	CodeInvalidName     Code = 4007 // display name empty, too long or with control characters
	CodeBadSDP          Code = 4008 // session description unparseable or rejected
	CodeNoCodec         Code = 4009 // offer has no codec Parley forwards
	CodeEarlyCandidate  Code = 4010 // ICE candidate before the offer/answer it belongs to
	CodeBadCandidate    Code = 4011 // ICE candidate malformed
	CodeUnknownTrack    Code = 4012 // no such track (or not yours)
	CodeRateLimited     Code = 4013 // too many messages on one socket, or chat messages or reactions
	CodeShuttingDown    Code = 4014 // server is draining; try another node later
	CodeRoomFull        Code = 4015 // room has reached its participant limit
	CodeResumeFailed    Code = 4016 // resume token unknown or expired: join again
	CodeInvalidChat     Code = 4017 // chat message empty or too long
	CodeInvalidReaction Code = 4018 // reaction not in the allowed set
	CodeNoTranscription Code = 4019 // this server has no speech engine
	CodeRoomEnded       Code = 4020 // the room has ended
	CodeNotFound        Code = 4021 // REST API: no such room, meeting or endpoint
	CodeLimit           Code = 4022 // more tracks, ICE candidates or media sections than one participant may have
	CodeJoinTimeout     Code = 4023 // the socket did not join in time; it is closed
	CodeInProgress      Code = 4024 // REST API: the meeting is in progress (end it first)
	CodeBadAudio        Code = 4025 // REST API: an upload that is not audio Parley decodes
	CodeNoRecording     Code = 4026 // this server does not record meetings
	CodeQuota           Code = 4027 // REST API: the user's upload quota is used
	CodeEditConflict    Code = 4028 // REST API: a transcript edit that no longer applies (nothing to undo, changed since)
	CodeNoSummaries     Code = 4029 // REST API: this server has no language model for summaries

	// Limits on one client address and on the whole server.
	CodeTooManySockets  Code = 4030 // too many signalling sockets open from one address
	CodeTooManyRequests Code = 4031 // too many room look-ups, joins or room creations from one address
	CodeServerFull      Code = 4032 // the server holds as many participants as it may
	CodeTooManyRooms    Code = 4033 // the server holds as many rooms as it may
	CodeWrongHost       Code = 4034 // the request's Host is not the server's public host
	CodeRoomElsewhere   Code = 4035 // the room lives on another node: ask for a join token again, which names it
	CodeNoNode          Code = 4036 // no node can take the room now (coordination down, every node full or draining)
	CodeNotAllowed      Code = 4040 // your role may not do this
	CodeRemoved         Code = 4041 // a moderator removed you from this meeting
	CodeNotAdmitted     Code = 4042 // you wait in the lobby: nothing but leave until admitted
	CodeNoToken         Code = 4043 // join without a join token
	CodeBadToken        Code = 4044 // join token malformed or its signature wrong
	CodeTokenExpired    Code = 4045 // join token expired: ask for a new one
	CodeTokenReplayed   Code = 4046 // join token already used
	CodeTokenRoom       Code = 4047 // join token for another room
	CodeNoSuchPerson    Code = 4048 // no such participant (moderator action)
	CodeConsent         Code = 4049 // a consent record could not be stored: transcription is off
	CodeUnauthorized    Code = 4050 // REST API: no credential, or not one that may read this
	CodeForbidden       Code = 4051 // REST API: cross-site request or missing CSRF token
	CodeInternal        Code = 5000 // server fault; the session continues
)

// registry gives each code its short name (sent with the code) and the
// HTTP status the REST API answers with for the same error, so that one
// error kind has one meaning on both surfaces. Codes that only the
// WebSocket session can produce still get the status that fits them best.
var registry = map[Code]struct {
	name   string
	status int
}{
	CodeMalformed:       {"malformed", http.StatusBadRequest},
	CodeUnknownType:     {"unknown_type", http.StatusBadRequest},
	CodeTooLarge:        {"too_large", http.StatusRequestEntityTooLarge},
	CodeInvalidField:    {"invalid_field", http.StatusBadRequest},
	CodeNotJoined:       {"not_joined", http.StatusConflict},
	CodeAlreadyJoined:   {"already_joined", http.StatusConflict},
	CodeInvalidRoom:     {"invalid_room", http.StatusNotFound},
	CodeInvalidName:     {"invalid_name", http.StatusBadRequest},
	CodeBadSDP:          {"bad_sdp", http.StatusBadRequest},
	CodeNoCodec:         {"no_supported_codec", http.StatusBadRequest},
	CodeEarlyCandidate:  {"candidate_before_offer", http.StatusConflict},
	CodeBadCandidate:    {"bad_candidate", http.StatusBadRequest},
	CodeUnknownTrack:    {"unknown_track", http.StatusNotFound},
	CodeRateLimited:     {"rate_limited", http.StatusTooManyRequests},
	CodeShuttingDown:    {"shutting_down", http.StatusServiceUnavailable},
	CodeRoomFull:        {"room_full", http.StatusConflict},
	CodeResumeFailed:    {"resume_failed", http.StatusGone},
	CodeInvalidChat:     {"invalid_chat", http.StatusBadRequest},
	CodeInvalidReaction: {"invalid_reaction", http.StatusBadRequest},
	CodeNoTranscription: {"transcription_unavailable", http.StatusNotImplemented},
	CodeNoRecording:     {"recording_unavailable", http.StatusNotImplemented},
	CodeQuota:           {"quota_exceeded", http.StatusRequestEntityTooLarge},
	CodeEditConflict:    {"edit_conflict", http.StatusConflict},
	CodeNoSummaries:     {"summaries_unavailable", http.StatusNotImplemented},
	CodeRoomEnded:       {"room_ended", http.StatusNotFound},
	CodeNotFound:        {"not_found", http.StatusNotFound},
	CodeLimit:           {"limit_exceeded", http.StatusTooManyRequests},
	CodeJoinTimeout:     {"join_timeout", http.StatusRequestTimeout},
	CodeInProgress:      {"meeting_in_progress", http.StatusConflict},
	CodeBadAudio:        {"unsupported_audio", http.StatusUnsupportedMediaType},
	CodeTooManySockets:  {"too_many_sockets", http.StatusTooManyRequests},
	CodeTooManyRequests: {"too_many_requests", http.StatusTooManyRequests},
	CodeServerFull:      {"server_full", http.StatusServiceUnavailable},
	CodeTooManyRooms:    {"too_many_rooms", http.StatusServiceUnavailable},
	CodeWrongHost:       {"wrong_host", http.StatusMisdirectedRequest},
	CodeRoomElsewhere:   {"room_elsewhere", http.StatusMisdirectedRequest},
	CodeNoNode:          {"no_node", http.StatusServiceUnavailable},
	CodeNotAllowed:      {"not_allowed", http.StatusForbidden},
	CodeRemoved:         {"removed", http.StatusForbidden},
	CodeNotAdmitted:     {"not_admitted", http.StatusForbidden},
	CodeNoToken:         {"token_required", http.StatusUnauthorized},
	CodeBadToken:        {"bad_token", http.StatusUnauthorized},
	CodeTokenExpired:    {"token_expired", http.StatusUnauthorized},
	CodeTokenReplayed:   {"token_replayed", http.StatusUnauthorized},
	CodeTokenRoom:       {"token_room", http.StatusForbidden},
	CodeNoSuchPerson:    {"no_such_participant", http.StatusNotFound},
	CodeConsent:         {"consent_not_recorded", http.StatusServiceUnavailable},
	CodeUnauthorized:    {"unauthorized", http.StatusUnauthorized},
	CodeForbidden:       {"forbidden", http.StatusForbidden},
	CodeInternal:        {"internal", http.StatusInternalServerError},
}

// String returns the code's short name.
func (c Code) String() string { return registry[c].name }

// HTTPStatus is the status the REST API answers with for an error of this
// code (500 for a code outside the registry).
func (c Code) HTTPStatus() int {
	if r, ok := registry[c]; ok {
		return r.status
	}
	return http.StatusInternalServerError
}

// Codes returns every registered code with its name, for documentation
// and tests.
func Codes() map[Code]string {
	m := make(map[Code]string, len(registry))
	for c, r := range registry {
		m[c] = r.name
	}
	return m
}

// tokenError gives a join token's refusal its code.
func tokenError(err error) error {
	switch {
	case errors.Is(err, access.ErrExpired):
		return NewError(CodeTokenExpired, "join token expired: ask for a new one")
	case errors.Is(err, access.ErrReplayed):
		return NewError(CodeTokenReplayed, "join token already used: ask for a new one")
	}
	return NewError(CodeBadToken, "join token invalid")
}

// protoError is an error that already carries its wire code.
type protoError struct {
	code Code
	msg  string
}

func (e *protoError) Error() string { return e.msg }

// NewError returns an error with a code of its own, for failures that
// are not one of the room's or the SFU's error kinds (a missing field, an
// unknown meeting).
func NewError(code Code, msg string) error { return &protoError{code, msg} }

// CodeOf is the one place that maps error kinds to codes, for the
// WebSocket's error messages and the REST API's statuses alike. Errors of
// no known kind are CodeInternal.
func CodeOf(err error) Code {
	var pe *protoError
	switch {
	case errors.As(err, &pe):
		return pe.code
	case errors.Is(err, room.ErrInvalidRoomID):
		return CodeInvalidRoom
	case errors.Is(err, room.ErrNotAllowed):
		return CodeNotAllowed
	case errors.Is(err, room.ErrRemoved):
		return CodeRemoved
	case errors.Is(err, room.ErrNotAdmitted):
		return CodeNotAdmitted
	case errors.Is(err, room.ErrNoSuchPerson):
		return CodeNoSuchPerson
	case errors.Is(err, room.ErrConsent):
		return CodeConsent
	case errors.Is(err, room.ErrInvalidName):
		return CodeInvalidName
	case errors.Is(err, sfu.ErrNoSupportedCodec):
		return CodeNoCodec
	case errors.Is(err, sfu.ErrBadSDP):
		return CodeBadSDP
	case errors.Is(err, sfu.ErrNoRemoteDesc):
		return CodeEarlyCandidate
	case errors.Is(err, sfu.ErrBadCandidate):
		return CodeBadCandidate
	case errors.Is(err, sfu.ErrUnknownTrack), errors.Is(err, room.ErrNotPublisher):
		return CodeUnknownTrack
	case errors.Is(err, room.ErrRateLimited):
		return CodeRateLimited
	case errors.Is(err, sfu.ErrLimit):
		return CodeLimit
	case errors.Is(err, room.ErrShuttingDown):
		return CodeShuttingDown
	case errors.Is(err, room.ErrRoomFull):
		return CodeRoomFull
	case errors.Is(err, room.ErrServerFull):
		return CodeServerFull
	case errors.Is(err, room.ErrTooManyRooms):
		return CodeTooManyRooms
	case errors.Is(err, room.ErrResumeFailed):
		return CodeResumeFailed
	case errors.Is(err, room.ErrInvalidChat):
		return CodeInvalidChat
	case errors.Is(err, room.ErrInvalidEmoji):
		return CodeInvalidReaction
	case errors.Is(err, room.ErrInvalidLayer):
		return CodeInvalidField
	case errors.Is(err, room.ErrTranscriptionUnavailable):
		return CodeNoTranscription
	case errors.Is(err, room.ErrRecordingUnavailable):
		return CodeNoRecording
	case errors.Is(err, room.ErrRoomClosed):
		return CodeRoomEnded
	}
	return CodeInternal
}
