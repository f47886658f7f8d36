package httpapi

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/record"
	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/store"
)

// searchBody is POST /api/search's request: what to look for, and the
// meeting keys this browser kept (open mode, or meetings joined as a
// guest); a signed-in user's own meetings need no key.
type searchBody struct {
	Q     string   `json:"q"`
	Keys  []string `json:"keys"`
	Limit int      `json:"limit"`
}

// readerBody reads the body of POST /api/search and /api/meetings/list
// (JSON, at most 128 KiB and store.MaxSearchKeys meeting keys) and
// returns it with the caller's signed-in subject and the keys' hashes;
// on a bad body it has answered.
func (a *api) readerBody(w http.ResponseWriter, r *http.Request) (body searchBody, subject string, hashes []string, ok bool) {
	fail := func(msg string) (searchBody, string, []string, bool) {
		writeError(w, signal.NewError(signal.CodeInvalidField, msg))
		return body, "", nil, false
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return fail("a JSON body (Content-Type: application/json)")
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 128<<10)).Decode(&body); err != nil {
		return fail("body: " + err.Error())
	}
	if len(body.Keys) > store.MaxSearchKeys {
		return fail("at most 1000 meeting keys")
	}
	hashes = make([]string, 0, len(body.Keys))
	for _, k := range body.Keys {
		if k != "" && len(k) <= 128 {
			hashes = append(hashes, access.HashSecret(k))
		}
	}
	_, subject = a.credential(r)
	return body, subject, hashes, true
}

// storeFailed answers a store error: 400 for a value it refused, else
// 500 (logged, its text not shown).
func (a *api) storeFailed(w http.ResponseWriter, err error, what string) {
	if errors.Is(err, store.ErrInvalid) {
		writeError(w, signal.NewError(signal.CodeInvalidField, err.Error()))
		return
	}
	a.o.Logger.Error(what+" failed", "err", err)
	writeError(w, signal.NewError(signal.CodeInternal, what+" failed"))
}

// search answers POST /api/search: the segments that match q in every
// meeting the caller may read (by the keys sent and the signed-in
// account), newest first. A meeting the caller may not read is never
// searched; a caller with no credential finds nothing.
func (a *api) search(w http.ResponseWriter, r *http.Request) {
	body, subject, hashes, ok := a.readerBody(w, r)
	if !ok {
		return
	}
	hits, err := a.o.Store.Search(r.Context(), store.SearchQuery{Text: body.Q, Subject: subject, KeyHashes: hashes, Limit: body.Limit})
	if err != nil {
		a.storeFailed(w, err, "search")
		return
	}
	if hits == nil {
		hits = []store.Hit{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"hits": hits})
}

// meetingLine is one meeting of POST /api/meetings/list.
type meetingLine struct {
	store.MeetingSummary
	// State is the transcript's: live (the meeting goes on), finalizing
	// (diarization, a final pass or the recording's finishing still to
	// run), transcribing (an upload being recognised) or final.
	State    string `json:"state"`
	Recorded bool   `json:"recorded"`
}

// listMeetings answers POST /api/meetings/list: the meetings the caller
// may read (by the keys sent and the signed-in account), newest first.
func (a *api) listMeetings(w http.ResponseWriter, r *http.Request) {
	body, subject, hashes, ok := a.readerBody(w, r)
	if !ok {
		return
	}
	list, err := a.o.Store.Meetings(r.Context(), subject, hashes, body.Limit)
	var pending []string
	if err == nil && len(list) > 0 {
		pending, err = a.o.Store.PendingJobKeys(r.Context())
	}
	if err != nil {
		a.storeFailed(w, err, "meetings list")
		return
	}
	out := make([]meetingLine, len(list))
	for i, m := range list {
		out[i] = meetingLine{MeetingSummary: m, State: a.meetingState(m, pending), Recorded: a.recorded(m.ID)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"meetings": out})
}

// meetingState tells live, finalizing, transcribing or final: job keys
// name their meeting after the kind ("finalize:MT_…", "upload:MT_…",
// "finalize_recording:MT_…:2").
func (a *api) meetingState(m store.MeetingSummary, pending []string) string {
	if a.o.Rooms != nil {
		if rm, live := a.o.Rooms.Room(m.RoomID); live && rm.MeetingID() == m.ID {
			return "live"
		}
	}
	for _, k := range pending {
		parts := strings.Split(k, ":")
		if len(parts) >= 2 && parts[1] == m.ID {
			if parts[0] == "upload" {
				return "transcribing"
			}
			return "finalizing"
		}
	}
	return "final"
}

func (a *api) recorded(meetingID string) bool {
	if a.o.Recordings == nil {
		return false
	}
	_, err := record.ReadManifest(a.o.Recordings, meetingID)
	return err == nil
}
