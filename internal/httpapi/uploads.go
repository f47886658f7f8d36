package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/jobs"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/store"
)

// Uploader queues the transcription of an uploaded recording (jobs.Uploads).
type Uploader interface {
	// Accept keeps the checked upload in file (moving or copying it
	// away) and queues its transcription.
	Accept(ctx context.Context, up jobs.Upload, grant store.Grant, started time.Time, file string) (int64, error)
	// Used is the bytes of uploads a user keeps (for the quota).
	Used(ctx context.Context, subject string) (int64, error)
}

// UploadOptions configures POST /api/transcriptions.
type UploadOptions struct {
	Uploader Uploader // nil: no uploads (no speech engine)
	Dir      string   // where an upload is received and checked (data-dir/uploads)
	Max      int64    // largest body accepted, in bytes
	// Quota is the bytes of uploads one signed-in user may keep (0: no
	// quota); deleting an upload's meeting frees its share.
	Quota int64
	// Language is the speech language the engine is set up for
	// (--asr-language); an upload that names another is refused unless
	// AnyLanguage (an OpenAI-compatible engine: Whisper takes the
	// language with each request).
	Language    string
	AnyLanguage bool
	Jobs        interface {
		JobByKey(ctx context.Context, key string) (store.Job, error)
	}
	// Progress reports a running transcription's progress (nil: none).
	Progress func(meetingID string) (fraction float64, step string, ok bool)
}

// uploadIdle is how long an upload may send nothing before it is cut.
const uploadIdle = 30 * time.Second

// progressReader moves the connection's read deadline on at each read.
type progressReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
}

func (p *progressReader) Read(b []byte) (int, error) {
	p.rc.SetReadDeadline(time.Now().Add(p.idle)) // not every writer supports it: then the server's timeout holds
	return p.r.Read(b)
}

const acceptedAudio = "accepted: WAV (PCM or float), FLAC, Ogg/Opus, MP3"

// upload answers POST /api/transcriptions: the body is an audio file
// (query: name, speakers 0–20). It is stored and checked to be audio this
// server decodes (415 unsupported_audio otherwise, nothing kept), then
// becomes a meeting of its uploader with a transcription job: 202
// {"meeting_id","key","status_url","transcript_url"}. A body over the
// limit is refused with 413 before it is read when its length is
// announced, and as soon as it passes the limit otherwise. In oidc mode
// only signed-in users upload.
func (a *api) upload(w http.ResponseWriter, r *http.Request) {
	o := a.o.Uploads
	if err := a.o.Auth.CheckUpload(r); err != nil {
		writeError(w, signal.NewError(signal.CodeForbidden, err.Error()))
		return
	}
	if o.Uploader == nil {
		writeError(w, signal.NewError(signal.CodeNoTranscription, "this server has no speech engine"))
		return
	}
	user, signedIn := a.o.Auth.User(r)
	if a.o.Auth.Mode() == auth.OIDC && !signedIn {
		writeError(w, signal.NewError(signal.CodeUnauthorized, "sign in to upload recordings"))
		return
	}
	tooLarge := signal.NewError(signal.CodeTooLarge, fmt.Sprintf("the upload limit is %d bytes", o.Max))
	if r.ContentLength > o.Max {
		w.Header().Set("Connection", "close") // the body is not read
		writeError(w, tooLarge)
		return
	}
	limit := o.Max
	var overQuota error
	if o.Quota > 0 && signedIn {
		used, err := o.Uploader.Used(r.Context(), user.Subject)
		if err != nil {
			a.fail(w, "upload quota", err)
			return
		}
		overQuota = signal.NewError(signal.CodeQuota, fmt.Sprintf("your uploads may take %d bytes; you keep %d: delete some to upload more", o.Quota, used))
		if left := o.Quota - used; left < limit {
			limit = left
			tooLarge = overQuota
		}
		if limit <= 0 || r.ContentLength > limit {
			w.Header().Set("Connection", "close")
			writeError(w, overQuota)
			return
		}
	}
	q := r.URL.Query()
	name := q.Get("name")
	if len(name) > 200 || !utf8.ValidString(name) {
		writeError(w, signal.NewError(signal.CodeInvalidField, "name: at most 200 bytes of UTF-8"))
		return
	}
	lang := strings.ToLower(q.Get("language"))
	switch {
	case lang == "" || lang == strings.ToLower(o.Language):
		lang = ""
	case !validLanguage(lang):
		writeError(w, signal.NewError(signal.CodeInvalidField, "language: an ISO 639-1 code such as en or fr"))
		return
	case !o.AnyLanguage:
		writeError(w, signal.NewError(signal.CodeInvalidField,
			fmt.Sprintf("language: this server transcribes %q only (its --asr-language)", o.Language)))
		return
	}
	speakers := 0
	if v := q.Get("speakers"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 20 {
			writeError(w, signal.NewError(signal.CodeInvalidField, "speakers: 0 (estimate) to 20"))
			return
		}
		speakers = n
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		a.fail(w, "upload directory", err)
		return
	}
	id := room.NewMeetingID()
	part := filepath.Join(o.Dir, jobs.UploadFile(id)) + ".part"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		a.fail(w, "upload file", err)
		return
	}
	defer os.Remove(part) // gone already once accepted
	// An upload may take longer than the server's read timeout: the
	// deadline moves on as long as bytes keep coming (as for slow
	// downloads, guard.go).
	body := &progressReader{r: http.MaxBytesReader(w, r.Body, limit), rc: http.NewResponseController(w), idle: uploadIdle}
	size, err := io.Copy(f, body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		writeError(w, tooLarge)
		return
	}
	if err != nil {
		writeError(w, signal.NewError(signal.CodeMalformed, "upload interrupted: "+err.Error()))
		return
	}
	if err := checkAudio(part); err != nil {
		writeError(w, signal.NewError(signal.CodeBadAudio, err.Error()+"; "+acceptedAudio))
		return
	}
	if overQuota != nil {
		// Another upload of the same user may have finished meanwhile.
		if used, err := o.Uploader.Used(r.Context(), user.Subject); err != nil || used+size > o.Quota {
			writeError(w, overQuota)
			return
		}
	}
	key := access.NewSecret()
	subject := user.Subject
	if !signedIn {
		subject = "upload:" + access.HashSecret(key)[:16]
	}
	if name == "" {
		name = "Upload " + time.Now().UTC().Format("2006-01-02 15:04")
	}
	if _, err := o.Uploader.Accept(r.Context(), jobs.Upload{MeetingID: id, Name: name, Speakers: speakers, Language: lang, Subject: subject, Size: size},
		store.Grant{Subject: subject, KeyHash: access.HashSecret(key), Role: "owner"}, time.Now(), part); err != nil {
		a.fail(w, "upload job", err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"meeting_id": id, "key": key,
		"status_url":     "/api/transcriptions/" + id,
		"transcript_url": "/api/meetings/" + id + "/transcript"})
}

// validLanguage: two or three lower-case letters (ISO 639-1, or -3).
func validLanguage(s string) bool {
	if len(s) < 2 || len(s) > 3 {
		return false
	}
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// checkAudio opens a stored upload and reads its first samples: the
// format is one we decode and the file has audio.
func checkAudio(path string) error {
	r, err := audiofile.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	buf := make([]float32, 1600)
	if n, err := r.Read(buf); n == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			err = audiofile.ErrEmpty
		}
		return err
	}
	return nil
}

// uploadStatus answers GET /api/transcriptions/{id}: the state of an
// upload's transcription (queued, running, done, dead, cancelled), for
// those who may read the meeting; everyone else gets the 404 of a
// meeting that does not exist.
func (a *api) uploadStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := a.reader(r, id); !ok || a.o.Uploads.Jobs == nil {
		writeError(w, errNoMeeting)
		return
	}
	j, err := a.o.Uploads.Jobs.JobByKey(r.Context(), jobs.UploadKey(id))
	if err != nil {
		writeError(w, errNoMeeting)
		return
	}
	out := map[string]any{"meeting_id": id, "state": j.State, "attempts": j.Attempts}
	if j.State != store.JobDone && j.LastError != "" {
		out["error"] = j.LastError
	}
	if a.o.Uploads.Progress != nil && j.State == store.JobRunning {
		if f, step, ok := a.o.Uploads.Progress(id); ok {
			out["progress"], out["step"] = math.Round(f*1000)/1000, step
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// fail answers a server fault, its detail in the log only.
func (a *api) fail(w http.ResponseWriter, what string, err error) {
	a.o.Logger.Error(what, "err", err)
	writeError(w, signal.NewError(signal.CodeInternal, what))
}
