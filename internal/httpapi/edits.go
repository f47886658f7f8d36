package httpapi

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"

	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/store"
)

// edits answers GET /api/meetings/{id}/edits: the history of the
// corrections made to a meeting's transcript, and whether the caller
// may make more — for whoever may read the meeting (everyone else gets
// the 404 of a meeting that does not exist).
func (a *api) edits(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := a.reader(r, id); !ok {
		writeError(w, errNoMeeting)
		return
	}
	hist, err := a.o.Store.Edits(r.Context(), id)
	if err != nil {
		a.o.Logger.Error("edit history not read", "meeting", id, "err", err)
		writeError(w, signal.NewError(signal.CodeInternal, "edit history unavailable"))
		return
	}
	_, mayEdit := a.editor(r, id)
	writeJSON(w, http.StatusOK, map[string]any{"edits": hist, "may_edit": mayEdit})
}

// editor says whether the caller may correct a meeting's transcript: the
// room's owner and the meeting's owner and moderators (those who may
// delete it), every participant when the room allows it; and returns
// the meeting's room.
func (a *api) editor(r *http.Request, meetingID string) (string, bool) {
	keyHash, subject := a.credential(r)
	roomID, ok, err := a.o.Store.MayEdit(r.Context(), meetingID, keyHash, subject)
	if err != nil {
		a.o.Logger.Error("meeting edit check failed", "err", err)
	}
	return roomID, ok && err == nil
}

// edit answers POST /api/meetings/{id}/edits: one correction (rename a
// speaker, edit a segment's text, merge, split, undo the latest), for
// those who may edit, once the meeting has ended.
func (a *api) edit(w http.ResponseWriter, r *http.Request) {
	if !a.check(w, r) {
		return
	}
	id := r.PathValue("id")
	g, readable := a.reader(r, id)
	roomID, ok := a.editor(r, id)
	if !ok {
		if readable {
			writeError(w, signal.NewError(signal.CodeNotAllowed, "only the meeting's owner and moderators correct its transcript (the room's owner may let every participant)"))
		} else {
			writeError(w, errNoMeeting)
		}
		return
	}
	if a.o.Rooms != nil {
		if rm, live := a.o.Rooms.Room(roomID); live && rm.MeetingID() == id {
			writeError(w, signal.NewError(signal.CodeInProgress, "the meeting is in progress: its transcript can be corrected once it ends"))
			return
		}
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		writeError(w, signal.NewError(signal.CodeInvalidField, "a JSON body (Content-Type: application/json)"))
		return
	}
	var req store.EditRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, signal.NewError(signal.CodeInvalidField, "body: "+err.Error()))
		return
	}
	actor, name := g.Subject, ""
	if u, ok := a.o.Auth.User(r); ok {
		actor, name = u.Subject, u.Name
	}
	rec, err := a.o.Store.Edit(r.Context(), id, actor, name, req)
	switch {
	case errors.Is(err, store.ErrInvalid):
		writeError(w, signal.NewError(signal.CodeInvalidField, err.Error()))
	case errors.Is(err, store.ErrConflict):
		writeError(w, signal.NewError(signal.CodeEditConflict, err.Error()))
	case errors.Is(err, store.ErrNotFound):
		writeError(w, signal.NewError(signal.CodeNotFound, err.Error()))
	case err != nil:
		a.o.Logger.Error("transcript edit failed", "meeting", id, "err", err)
		writeError(w, signal.NewError(signal.CodeInternal, "edit not made"))
	default:
		a.audit(r, roomID, actor, name, "transcript_edited", id+" "+req.Kind)
		writeJSON(w, http.StatusOK, map[string]any{"edit": rec})
	}
}
