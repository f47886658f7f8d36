package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/store"
)

var errEOF = io.EOF

// join answers POST /api/rooms/{id}/join with a join token: who the
// caller is (their session, or a guest name), their role in the room and
// whether they must knock. The signalling socket trusts nothing else.
func (a *api) join(w http.ResponseWriter, r *http.Request) {
	if a.o.Ready != nil && !a.o.Ready() {
		writeError(w, room.ErrShuttingDown)
		return
	}
	if !a.check(w, r) {
		return
	}
	id := r.PathValue("id")
	if !room.ValidRoomID(id) {
		writeError(w, room.ErrInvalidRoomID)
		return
	}
	var body struct {
		Name         string `json:"name"`
		CreatorToken string `json:"creator_token"`
	}
	if err := decode(w, r, &body); err != nil {
		writeError(w, err)
		return
	}
	user, signedIn := a.o.Auth.User(r)
	out := map[string]any{"room": id}
	rec, err := a.o.Store.Room(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Typing a new name in the address bar creates the room, for a
		// signed-in user (oidc) or anyone (open mode), if the name is
		// long enough not to be guessed; the creator owns it.
		if a.o.Auth.Mode() == auth.OIDC && !signedIn {
			writeError(w, errNoRoom)
			return
		}
		if len(id) < MinNewRoomID {
			writeError(w, errNoRoom)
			return
		}
		rec = store.Room{ID: id, Owner: user.Subject, Access: room.AccessPublic, TranscriptionBy: room.ByEveryone, Created: time.Now()}
		if a.o.Auth.Mode() == auth.OIDC {
			rec.TranscriptionBy = room.ByModerators
		}
		if !signedIn {
			body.CreatorToken = access.NewSecret()
			rec.CreatorHash = access.HashSecret(body.CreatorToken)
			out["creator_token"] = body.CreatorToken
		}
		if err := a.o.Store.CreateRoom(r.Context(), rec); errors.Is(err, store.ErrExists) {
			// Created by someone else a moment ago: join it as anyone.
			rec, err = a.o.Store.Room(r.Context(), id)
			delete(out, "creator_token")
			body.CreatorToken = ""
			if err != nil {
				writeError(w, err)
				return
			}
		} else if err != nil {
			a.o.Logger.Error("room not created", "err", err)
			writeError(w, err)
			return
		} else {
			a.audit(r, id, user.Subject, user.Name, "room_created", "by joining")
		}
	case err != nil:
		writeError(w, err)
		return
	}

	c := access.Claims{Room: id, Addr: remoteIP(r)}
	if signedIn {
		c.Subject, c.Name = user.Subject, user.Name
	} else {
		name, err := room.CleanName(body.Name)
		if err != nil {
			writeError(w, err)
			return
		}
		c.Subject, c.Name = a.guestSubject(w, r), name
		c.Guest = a.o.Auth.Mode() == auth.OIDC
	}
	members, err := a.o.Store.Members(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	c.Role, c.Lobby = decide(rec, c, user.Email, members, body.CreatorToken)
	if c.Role == room.RoleOwner && !signedIn {
		// The creator token's holder is the same owner on every join.
		c.Subject = "creator:" + rec.CreatorHash[:16]
	}
	if rm, ok := a.o.Rooms.Room(id); ok && rm.Removed(c.Subject) {
		writeError(w, room.ErrRemoved)
		return
	}
	if a.o.Place != nil {
		where, err := a.o.Place(r.Context(), id)
		if err != nil {
			writeError(w, err)
			return
		}
		if where != "" {
			out["signal_url"] = where
		}
	}
	out["token"] = a.o.Keys.Sign(c)
	out["role"] = c.Role
	out["lobby"] = c.Lobby
	out["name"] = c.Name
	out["expires_in"] = int(access.TokenTTL / time.Second)
	writeJSON(w, http.StatusOK, out)
}

// decide gives a person their role in a room and says whether they must
// knock: the owner and moderators enter; then the room's access level
// rules (public: everyone enters; trusted: signed-in users enter, guests
// knock; restricted: listed members enter, everyone else knocks). A
// locked room makes everyone but moderators knock (the room checks that
// again when the token is used, since a lock can come in between).
func decide(rec store.Room, c access.Claims, email string, members map[string]string, creatorToken string) (role string, lobby bool) {
	if c.Guest {
		email = "" // a guest's address is not the provider's
	}
	listed, isListed := listedRole(members, c.Subject, email)
	switch {
	case rec.Owner != "" && c.Subject == rec.Owner,
		creatorToken != "" && rec.CreatorHash != "" && access.HashSecret(creatorToken) == rec.CreatorHash:
		return room.RoleOwner, false
	case listed == room.RoleModerator:
		return room.RoleModerator, false
	}
	role = room.RoleParticipant
	if c.Guest {
		role = room.RoleGuest
	}
	switch rec.Access {
	case room.AccessTrusted:
		lobby = c.Guest
	case room.AccessRestricted:
		lobby = !isListed
	}
	return role, lobby || rec.Locked
}

// guestSubject returns the browser's guest identity, giving it one (an
// HttpOnly cookie) on its first join.
func (a *api) guestSubject(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(GuestCookie); err == nil && len(c.Value) == 43 && !strings.ContainsAny(c.Value, " ;,") {
		return "guest:" + c.Value
	}
	v := access.NewSecret()
	http.SetCookie(w, &http.Cookie{Name: GuestCookie, Value: v, Path: "/", HttpOnly: true, Secure: strings.HasPrefix(a.o.PublicURL, "https:"),
		SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
	return "guest:" + v
}

// credential returns the caller's meeting key (Authorization: Bearer, or
// ?key= for download links) and signed-in subject.
func (a *api) credential(r *http.Request) (keyHash, subject string) {
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if key == r.Header.Get("Authorization") {
		key = ""
	}
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	if key != "" && len(key) <= 128 {
		keyHash = access.HashSecret(key)
	}
	if u, ok := a.o.Auth.User(r); ok {
		subject = u.Subject
	}
	return keyHash, subject
}

// reader says whether the caller may read a meeting, and who they are
// (for the audit log: the grant's room and subject).
func (a *api) reader(r *http.Request, meetingID string) (store.Grant, bool) {
	keyHash, subject := a.credential(r)
	ok, err := a.o.Store.MayRead(r.Context(), meetingID, keyHash, subject)
	if err != nil {
		a.o.Logger.Error("meeting access check failed", "err", err)
	}
	if !ok || err != nil {
		return store.Grant{}, false
	}
	g := store.Grant{MeetingID: meetingID, Subject: subject}
	if keyHash != "" {
		if kg, err := a.o.Store.Grant(r.Context(), meetingID, keyHash); err == nil {
			g = kg
		}
	}
	return g, true
}

// transcription answers POST /api/rooms/{id}/transcription: a participant
// of the meeting in progress (by meeting key or session) turns it on or
// off, if the room's policy lets them; the change is theirs, by name.
func (a *api) transcription(w http.ResponseWriter, r *http.Request) {
	if !a.check(w, r) {
		return
	}
	rm, ok := a.o.Rooms.Room(r.PathValue("id"))
	if !ok {
		writeError(w, signal.NewError(signal.CodeNotFound, "no meeting in progress in this room"))
		return
	}
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decode(w, r, &body); err != nil || body.Enabled == nil {
		writeError(w, signal.NewError(signal.CodeInvalidField, `want {"enabled": true|false}`))
		return
	}
	keyHash, subject := a.credential(r)
	if keyHash != "" {
		if g, err := a.o.Store.Grant(r.Context(), rm.MeetingID(), keyHash); err == nil {
			subject = g.Subject
		}
	}
	p := rm.BySubject(subject)
	if subject == "" || p == nil {
		writeError(w, signal.NewError(signal.CodeNotFound, "no meeting in progress in this room"))
		return
	}
	if err := rm.SetTranscription(*body.Enabled, p); err != nil {
		if signal.CodeOf(err) == signal.CodeInternal {
			a.o.Logger.Error("transcription change failed", "room", rm.ID(), "err", err)
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, signal.Transcription(rm.Transcription()))
}
