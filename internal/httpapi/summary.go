package httpapi

import (
	"context"
	"net/http"

	"github.com/parleyhq/parley/internal/signal"
)

// Summaries queues meeting summaries (jobs.Summaries).
type Summaries interface {
	Enqueue(ctx context.Context, meetingID string, regenerate bool) error
	Pending(ctx context.Context, meetingID string) (bool, error)
}

// summary answers GET /api/meetings/{id}/summary for whoever may read
// the meeting: {"configured", "pending", "may_regenerate", "summary"}
// (summary null until one is written).
func (a *api) summary(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := a.reader(r, id); !ok {
		writeError(w, errNoMeeting)
		return
	}
	sum, err := a.o.Store.Summary(r.Context(), id)
	if err != nil {
		a.o.Logger.Error("summary not read", "meeting", id, "err", err)
		writeError(w, signal.NewError(signal.CodeInternal, "summary unavailable"))
		return
	}
	pending := false
	if a.o.Summaries != nil {
		pending, _ = a.o.Summaries.Pending(r.Context(), id)
	}
	_, mayEdit := a.editor(r, id)
	writeJSON(w, http.StatusOK, map[string]any{"configured": a.o.Summaries != nil, "pending": pending,
		"may_regenerate": mayEdit && a.o.Summaries != nil, "summary": sum})
}

// regenerateSummary answers POST /api/meetings/{id}/summary: those who
// may edit the meeting ask for a new summary (202); 501 without a
// language model, nothing sent anywhere.
func (a *api) regenerateSummary(w http.ResponseWriter, r *http.Request) {
	if !a.check(w, r) {
		return
	}
	id := r.PathValue("id")
	_, readable := a.reader(r, id)
	roomID, ok := a.editor(r, id)
	switch {
	case !ok && readable:
		writeError(w, signal.NewError(signal.CodeNotAllowed, "only the meeting's owner and moderators ask for a new summary"))
		return
	case !ok:
		writeError(w, errNoMeeting)
		return
	case a.o.Summaries == nil:
		writeError(w, signal.NewError(signal.CodeNoSummaries, "this server has no language model for summaries (--llm-url)"))
		return
	}
	if a.o.Rooms != nil {
		if rm, live := a.o.Rooms.Room(roomID); live && rm.MeetingID() == id {
			writeError(w, signal.NewError(signal.CodeInProgress, "the meeting is in progress: it is summarised once it ends"))
			return
		}
	}
	if err := a.o.Summaries.Enqueue(r.Context(), id, true); err != nil {
		a.o.Logger.Error("summary job not queued", "meeting", id, "err", err)
		writeError(w, signal.NewError(signal.CodeInternal, "summary not queued"))
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"pending": true})
}
