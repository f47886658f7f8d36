package httpapi

import (
	"errors"
	"net/http"

	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/store"
)

// deleteMeeting answers DELETE /api/meetings/{id}: the room's owner, or
// whoever joined the meeting as its owner or a moderator (meeting key or
// session), deletes it now: transcript, grants, the files kept for it.
// 204 when done; a meeting still in progress is 409
// meeting_in_progress; everyone else gets the 404 of a meeting that does
// not exist. The audit log keeps who did it, not what was said.
func (a *api) deleteMeeting(w http.ResponseWriter, r *http.Request) {
	if !a.check(w, r) {
		return
	}
	if a.o.DeleteMeeting == nil {
		writeError(w, signal.NewError(signal.CodeNoTranscription, "no transcript store"))
		return
	}
	id := r.PathValue("id")
	keyHash, subject := a.credential(r)
	roomID, ok, err := a.o.Store.MayDelete(r.Context(), id, keyHash, subject)
	if err != nil {
		a.o.Logger.Error("meeting delete check failed", "err", err)
	}
	if !ok || err != nil {
		writeError(w, errNoMeeting)
		return
	}
	if a.o.Rooms != nil {
		if rm, live := a.o.Rooms.Room(roomID); live && rm.MeetingID() == id {
			writeError(w, signal.NewError(signal.CodeInProgress, "the meeting is in progress: it can be deleted once it ends"))
			return
		}
	}
	by := store.AuditEntry{Actor: subject, Addr: remoteIP(r), Detail: "by request"}
	if keyHash != "" {
		if g, err := a.o.Store.Grant(r.Context(), id, keyHash); err == nil && by.Actor == "" {
			by.Actor = g.Subject
		}
	}
	if u, ok := a.o.Auth.User(r); ok {
		by.Name = u.Name
	}
	if err := a.o.DeleteMeeting(r.Context(), id, by); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, errNoMeeting)
			return
		}
		a.o.Logger.Error("meeting not deleted", "meeting", id, "err", err)
		writeError(w, signal.NewError(signal.CodeInternal, "meeting not deleted"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
