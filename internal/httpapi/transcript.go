package httpapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/transcript"
)

// Transcripts reads stored meeting transcripts.
type Transcripts interface {
	Transcript(ctx context.Context, meetingID string) (*transcript.Transcript, error)
	// Revisions and RevisionTranscript give the kept earlier versions
	// of the segments (the live ones, after a final pass).
	Revisions(ctx context.Context, meetingID string) ([]store.Revision, error)
	RevisionTranscript(ctx context.Context, meetingID string, n int) (*transcript.Transcript, error)
}

var errNoMeeting = signal.NewError(signal.CodeNotFound, "no such meeting")

// serveTranscript answers GET /api/meetings/{id}/transcript?format=…
// (json by default; vtt, srt, md, txt, rttm, odt, docx). The meeting id (61+ random
// bits) is the capability to read it in open mode.
func serveTranscript(w http.ResponseWriter, r *http.Request, ts Transcripts) {
	if ts == nil {
		writeError(w, signal.NewError(signal.CodeNoTranscription, "no transcript store"))
		return
	}
	id := r.PathValue("id")
	if !room.ValidMeetingID(id) {
		writeError(w, errNoMeeting)
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	f, err := transcript.ParseFormat(format)
	if err != nil {
		writeError(w, signal.NewError(signal.CodeInvalidField, err.Error()))
		return
	}
	var t *transcript.Transcript
	if rev := r.URL.Query().Get("revision"); rev != "" {
		n, perr := strconv.Atoi(rev)
		if perr != nil || n < 1 {
			writeError(w, signal.NewError(signal.CodeInvalidField, "revision: a number from 1 (see /revisions)"))
			return
		}
		t, err = ts.RevisionTranscript(r.Context(), id, n)
	} else {
		t, err = ts.Transcript(r.Context(), id)
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, errNoMeeting)
		return
	}
	if err != nil {
		writeError(w, signal.NewError(signal.CodeInternal, "transcript unavailable"))
		return
	}
	// Render fully before answering, so a failure is an error status and
	// never a truncated file.
	var buf bytes.Buffer
	if err := transcript.Write(&buf, t, f); err != nil {
		writeError(w, signal.NewError(signal.CodeInternal, "transcript could not be rendered"))
		return
	}
	w.Header().Set("Content-Type", f.ContentType())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+"."+string(f)+`"`)
	w.Write(buf.Bytes())
}
