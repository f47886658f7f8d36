package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/transcript"
)

// RoomStore keeps rooms, meeting grants and the audit log.
type RoomStore interface {
	CreateRoom(ctx context.Context, r store.Room) error
	Room(ctx context.Context, id string) (store.Room, error)
	RoomsOwnedBy(ctx context.Context, owner string) ([]store.Room, error)
	UpdateRoom(ctx context.Context, r store.Room) error
	Members(ctx context.Context, roomID string) (map[string]string, error)
	SetMember(ctx context.Context, roomID, subject, role string) error
	SetListed(ctx context.Context, roomID, prefix string, listed map[string]string) error
	MayRead(ctx context.Context, meetingID, keyHash, subject string) (bool, error)
	MayDelete(ctx context.Context, meetingID, keyHash, subject string) (roomID string, ok bool, err error)
	MayEdit(ctx context.Context, meetingID, keyHash, subject string) (roomID string, ok bool, err error)
	Grant(ctx context.Context, meetingID, keyHash string) (store.Grant, error)
	Audit(ctx context.Context, e store.AuditEntry) error
	AuditLog(ctx context.Context, roomID string, limit int) ([]store.AuditEntry, error)
	Search(ctx context.Context, q store.SearchQuery) ([]store.Hit, error)
	Meetings(ctx context.Context, subject string, keyHashes []string, limit int) ([]store.MeetingSummary, error)
	PendingJobKeys(ctx context.Context) ([]string, error)
	Edit(ctx context.Context, meetingID, actor, name string, req store.EditRequest) (store.EditRecord, error)
	Edits(ctx context.Context, meetingID string) ([]store.EditRecord, error)
	Summary(ctx context.Context, meetingID string) (*transcript.Summary, error)
}

// MinNewRoomID is the shortest id a new room may have: shorter names are
// guessed (every two-letter id can be tried in a fraction of a second).
const MinNewRoomID = 10

// Header and cookie of the access model.
const (
	// CreatorHeader carries an open-mode room's creator token to the
	// owner's endpoints (the join body carries it for a join).
	CreatorHeader = "X-Parley-Creator"
	// GuestCookie keeps a browser's guest identity, so that a guest a
	// moderator removed stays removed when they ask to join again.
	GuestCookie = "parley_guest"
)

var (
	errNoRoom       = signal.NewError(signal.CodeNotFound, "no such room")
	errCSRF         = signal.NewError(signal.CodeForbidden, "cross-site request refused")
	errNotOwner     = signal.NewError(signal.CodeNotFound, "no such room") // the same answer as for a room that does not exist
	errSignInNeeded = signal.NewError(signal.CodeUnauthorized, "sign in to create rooms")
)

// roomSettings is a room's settings in the REST API.
type roomSettings struct {
	Access          string `json:"access"`
	Locked          bool   `json:"locked"`
	TranscriptionBy string `json:"transcription_by"`
	SpeakModerated  bool   `json:"speak_moderated"`
	// RetainDays keeps the room's meetings (transcripts and files) this
	// many days after they start; 0: the server's --retain-transcripts.
	RetainDays int `json:"retain_days"`
	// RetainRecordingDays keeps their recording files this many days;
	// 0: the server's --retain-recordings.
	RetainRecordingDays int `json:"retain_recording_days"`
	// ParticipantsEdit lets every participant correct the transcripts of
	// the room's meetings (else the owner and moderators).
	ParticipantsEdit bool `json:"participants_edit"`
}

// MaxRetainDays bounds a room's own retention (about ten years).
const MaxRetainDays = 3660

var errSettings = signal.NewError(signal.CodeInvalidField,
	"access: public, trusted or restricted; transcription_by: everyone or moderators; retain_days and retain_recording_days: 0 (the server's default) to 3660")

func settingsOf(r store.Room) roomSettings {
	return roomSettings{Access: r.Access, Locked: r.Locked, TranscriptionBy: r.TranscriptionBy, SpeakModerated: r.SpeakModerated, RetainDays: r.RetainDays,
		RetainRecordingDays: r.RetainRecordingDays, ParticipantsEdit: r.ParticipantsEdit}
}

// valid checks what the room package does not know of (retention) too.
func (s roomSettings) valid() bool {
	return s.room().Valid() && s.RetainDays >= 0 && s.RetainDays <= MaxRetainDays &&
		s.RetainRecordingDays >= 0 && s.RetainRecordingDays <= MaxRetainDays
}

func (s roomSettings) room() room.Settings {
	return room.Settings{Access: s.Access, Locked: s.Locked, TranscriptionBy: s.TranscriptionBy, SpeakModerated: s.SpeakModerated}
}

// api holds what the access endpoints share.
type api struct {
	o Options
}

// remoteIP is the request's peer address, for the audit log.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// decode reads a small JSON body; an empty body leaves v as it is.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10)).Decode(v)
	if err != nil && !errors.Is(err, errEOF) {
		return signal.NewError(signal.CodeInvalidField, "body: "+err.Error())
	}
	return nil
}

// check runs the CSRF check of a state-changing request.
func (a *api) check(w http.ResponseWriter, r *http.Request) bool {
	if err := a.o.Auth.Check(r); err != nil {
		writeError(w, signal.NewError(signal.CodeForbidden, err.Error()))
		return false
	}
	return true
}

func (a *api) audit(r *http.Request, roomID, actor, name, action, detail string) {
	err := a.o.Store.Audit(r.Context(), store.AuditEntry{RoomID: roomID, Actor: actor, Name: name, Addr: remoteIP(r), Action: action, Detail: detail})
	if err != nil {
		a.o.Logger.Error("audit row not stored", "action", action, "room", roomID, "err", err)
	}
}

// createRoom answers POST /api/rooms: in open mode anyone creates a room
// and their browser gets its creator token (the owner's credential); in
// oidc mode only signed-in users do, and they own it.
func (a *api) createRoom(w http.ResponseWriter, r *http.Request) {
	if a.o.Ready != nil && !a.o.Ready() {
		writeError(w, room.ErrShuttingDown)
		return
	}
	if !a.check(w, r) {
		return
	}
	user, signedIn := a.o.Auth.User(r)
	if a.o.Auth.Mode() == auth.OIDC && !signedIn {
		writeError(w, errSignInNeeded)
		return
	}
	body := struct {
		ID string `json:"id"`
		roomSettings
	}{roomSettings: roomSettings{Access: room.AccessPublic, TranscriptionBy: room.ByEveryone}}
	if a.o.Auth.Mode() == auth.OIDC {
		body.TranscriptionBy = room.ByModerators
	}
	if err := decode(w, r, &body); err != nil {
		writeError(w, err)
		return
	}
	if !body.valid() {
		writeError(w, errSettings)
		return
	}
	id := body.ID
	if id == "" {
		id = room.NewRoomID()
	} else if !room.ValidRoomID(id) || len(id) < MinNewRoomID {
		writeError(w, signal.NewError(signal.CodeInvalidRoom, "a room name: at least 10 characters, lower-case letter groups joined by hyphens"))
		return
	}
	rec := store.Room{ID: id, Owner: user.Subject, Access: body.Access, Locked: body.Locked, TranscriptionBy: body.TranscriptionBy,
		SpeakModerated: body.SpeakModerated, RetainDays: body.RetainDays,
		RetainRecordingDays: body.RetainRecordingDays, ParticipantsEdit: body.ParticipantsEdit, Created: time.Now()}
	out := map[string]any{"id": id, "url": baseURL(a.o.PublicURL, r) + "/" + id, "settings": settingsOf(rec)}
	if !signedIn {
		tok := access.NewSecret()
		rec.CreatorHash = access.HashSecret(tok)
		out["creator_token"] = tok
	}
	if err := a.o.Store.CreateRoom(r.Context(), rec); err != nil {
		if errors.Is(err, store.ErrExists) {
			writeError(w, signal.NewError(signal.CodeInvalidRoom, "that room name is taken"))
			return
		}
		a.o.Logger.Error("room not created", "err", err)
		writeError(w, err)
		return
	}
	a.audit(r, id, user.Subject, user.Name, "room_created", "access="+rec.Access)
	writeJSON(w, http.StatusCreated, out)
}

// roomInfo answers GET /api/rooms/{id}: whether the room exists and is
// live, and whether its meeting is transcribed (so that nobody speaks
// unaware, even before joining). It never gives the meeting id.
func (a *api) roomInfo(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !room.ValidRoomID(id) {
		writeError(w, room.ErrInvalidRoomID)
		return
	}
	rec, err := a.o.Store.Room(r.Context(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		writeError(w, err)
		return
	}
	out := map[string]any{"id": id, "exists": err == nil, "active": false, "url": baseURL(a.o.PublicURL, r) + "/" + id}
	if err == nil {
		out["access"] = rec.Access
	}
	if rm, ok := a.o.Rooms.Room(id); ok {
		out["active"] = true
		out["transcription"] = map[string]bool{"enabled": rm.Transcription().Enabled}
	}
	writeJSON(w, http.StatusOK, out)
}

// owner returns the room when the request comes from its owner: the
// signed-in owner, or in open mode the creator token's holder.
func (a *api) owner(r *http.Request, id string) (store.Room, auth.User, bool) {
	rec, err := a.o.Store.Room(r.Context(), id)
	if err != nil {
		return store.Room{}, auth.User{}, false
	}
	user, signedIn := a.o.Auth.User(r)
	if signedIn && rec.Owner != "" && user.Subject == rec.Owner {
		return rec, user, true
	}
	if tok := r.Header.Get(CreatorHeader); tok != "" && rec.CreatorHash != "" && access.HashSecret(tok) == rec.CreatorHash {
		return rec, auth.User{Subject: "creator:" + rec.CreatorHash[:16], Name: "owner"}, true
	}
	return store.Room{}, auth.User{}, false
}

// settings answers GET and PATCH /api/rooms/{id}/settings (owner only).
func (a *api) settings(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if r.Method != http.MethodGet && !a.check(w, r) {
		return
	}
	rec, user, ok := a.owner(r, id)
	if !ok {
		writeError(w, errNotOwner)
		return
	}
	members, err := a.o.Store.Members(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	out := ownerSettings{roomSettings: settingsOf(rec), Members: listedMembers(members)}
	if r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, out)
		return
	}
	body := struct {
		roomSettings
		Members *[]member `json:"members"`
	}{roomSettings: out.roomSettings}
	if err := decode(w, r, &body); err != nil {
		writeError(w, err)
		return
	}
	s := body.roomSettings
	if !s.valid() {
		writeError(w, errSettings)
		return
	}
	detail := []string{"access=" + s.Access, "transcription_by=" + s.TranscriptionBy, "locked=" + strconv.FormatBool(s.Locked),
		"speak_moderated=" + strconv.FormatBool(s.SpeakModerated), "retain_days=" + strconv.Itoa(s.RetainDays),
		"retain_recording_days=" + strconv.Itoa(s.RetainRecordingDays), "participants_edit=" + strconv.FormatBool(s.ParticipantsEdit)}
	if body.Members != nil {
		listed, err := memberList(*body.Members)
		if err != nil {
			writeError(w, err)
			return
		}
		if err := a.o.Store.SetListed(r.Context(), id, emailPrefix, listed); err != nil {
			writeError(w, err)
			return
		}
		out.Members = listedMembers(listed)
		detail = append(detail, "members="+strconv.Itoa(len(listed)))
	}
	rec.Access, rec.Locked, rec.TranscriptionBy, rec.SpeakModerated, rec.RetainDays = s.Access, s.Locked, s.TranscriptionBy, s.SpeakModerated, s.RetainDays
	rec.RetainRecordingDays, rec.ParticipantsEdit = s.RetainRecordingDays, s.ParticipantsEdit
	if err := a.o.Store.UpdateRoom(r.Context(), rec); err != nil {
		writeError(w, err)
		return
	}
	if rm, ok := a.o.Rooms.Room(id); ok {
		rm.SetSettings(s.room())
	}
	a.audit(r, id, user.Subject, user.Name, "settings", strings.Join(detail, " "))
	out.roomSettings = s
	writeJSON(w, http.StatusOK, out)
}

// auditLog answers GET /api/rooms/{id}/audit (owner only) as a JSON
// download.
func (a *api) auditLog(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, _, ok := a.owner(r, id); !ok {
		writeError(w, errNotOwner)
		return
	}
	rows, err := a.o.Store.AuditLog(r.Context(), id, 10000)
	if err != nil {
		writeError(w, err)
		return
	}
	if rows == nil {
		rows = []store.AuditEntry{}
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`-audit.json"`)
	writeJSON(w, http.StatusOK, rows)
}

// myRooms answers GET /api/rooms: the signed-in user's rooms.
func (a *api) myRooms(w http.ResponseWriter, r *http.Request) {
	user, ok := a.o.Auth.User(r)
	if !ok {
		writeError(w, signal.NewError(signal.CodeUnauthorized, "sign in to list your rooms"))
		return
	}
	rooms, err := a.o.Store.RoomsOwnedBy(r.Context(), user.Subject)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(rooms))
	for _, rec := range rooms {
		out = append(out, map[string]any{"id": rec.ID, "url": baseURL(a.o.PublicURL, r) + "/" + rec.ID,
			"created": rec.Created, "settings": settingsOf(rec), "active": a.o.Rooms.Participants(rec.ID) > 0})
	}
	writeJSON(w, http.StatusOK, out)
}
