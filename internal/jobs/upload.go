package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/diarize"
	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/transcript"
)

// KindUpload transcribes an uploaded recording.
const KindUpload = "transcribe_upload"

// Upload is an upload job's payload: the stored file and how to read it.
type Upload struct {
	MeetingID string `json:"meeting_id"`
	File      string `json:"file"` // name inside Uploads.Dir
	Name      string `json:"name,omitempty"`
	Speakers  int    `json:"speakers,omitempty"` // 0: estimate
	Language  string `json:"language,omitempty"` // "": the engine's
	// Subject is the uploader (a signed-in user, or the upload's own key)
	// and Size the file's bytes: what counts against the user's quota.
	Subject string `json:"subject,omitempty"`
	Size    int64  `json:"size,omitempty"`
}

// Uploads turns uploaded recordings into transcripts: Accept records
// one as a meeting of its uploader and queues it; Handler runs the job.
type Uploads struct {
	Store *store.DB
	// Dir (data-dir/uploads) keeps the uploads when Objects is nil (their
	// jobs then run on this node), and otherwise the copy of one being
	// transcribed here.
	Dir string
	// Objects, when set, keeps the uploads (UploadObject) where every
	// node and worker reads them (an S3 bucket): any of them may run
	// the job.
	Objects objects.Store
	Node    string // this node's id (the jobs of uploads kept in Dir)
	Engine  asr.Engine
	Wake    func() // the runner's, so that the job starts at once
	// Summaries, when set, queues the transcript's summary with it.
	Summaries *Summaries
	Logger    *slog.Logger

	running sync.Map // meeting id → *uploadProgress, while its job runs here
}

// uploadProgress follows one upload's transcription (jobs.Progress).
type uploadProgress struct {
	total float64      // seconds of audio
	done  atomic.Int64 // milliseconds recognised
	step  atomic.Value // string: "" while recognising, then "diarizing"
}

func (p *uploadProgress) Add(_ int, seconds float64) { p.done.Add(int64(seconds * 1000)) }
func (p *uploadProgress) Note(step string)           { p.step.Store(step) }

// Progress reports how far the transcription of an upload running in
// this process is: the fraction of its audio recognised (0 to 1; 1 while
// diarizing) and the step. ok is false when it does not run here.
func (u *Uploads) Progress(meetingID string) (fraction float64, step string, ok bool) {
	v, ok := u.running.Load(meetingID)
	if !ok {
		return 0, "", false
	}
	p := v.(*uploadProgress)
	step, _ = p.step.Load().(string)
	if step == "" {
		step = "recognising"
	}
	if p.total <= 0 {
		return 0, step, true
	}
	if step != "recognising" {
		return 1, step, true
	}
	return min(1, float64(p.done.Load())/1000/p.total), step, true
}

// UploadFile is where the upload of a meeting is kept: one file, named
// by the meeting, so that deleting the meeting finds it.
func UploadFile(meetingID string) string { return meetingID + ".audio" }

// UploadObject is where Objects keeps the upload of a meeting.
func UploadObject(meetingID string) string { return meetingID + "/audio" }

// UploadKey is the queue key of an upload's transcription job.
func UploadKey(meetingID string) string { return "upload:" + meetingID }

// Used returns the bytes of uploads subject keeps (their meetings not
// deleted): what counts against a quota.
func (u *Uploads) Used(ctx context.Context, subject string) (int64, error) {
	return u.Store.PayloadBytes(ctx, KindUpload, subject)
}

// Accept keeps an upload (file: its checked, decodable copy, which it
// moves or copies away) and records it: a meeting titled by its name,
// readable by grant's holder, and its transcription job, in one
// transaction. Nothing is kept when it fails.
func (u *Uploads) Accept(ctx context.Context, up Upload, grant store.Grant, started time.Time, file string) (int64, error) {
	up.File = UploadFile(up.MeetingID)
	job := store.NewJob{Kind: KindUpload, Key: UploadKey(up.MeetingID), Payload: up}
	forget := func() { os.Remove(filepath.Join(u.Dir, up.File)) }
	if u.Objects != nil {
		if err := u.putObject(up.MeetingID, file); err != nil {
			return 0, err
		}
		forget = func() { u.Objects.DeletePrefix(up.MeetingID) }
	} else {
		if err := os.Rename(file, filepath.Join(u.Dir, up.File)); err != nil {
			return 0, err
		}
		job.Node = u.Node
	}
	var id int64
	err := u.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateMeeting(transcript.Meeting{ID: up.MeetingID, Title: up.Name, Started: started}); err != nil {
			return err
		}
		grant.MeetingID = up.MeetingID
		if err := tx.GrantMeeting(grant); err != nil {
			return err
		}
		var err error
		id, err = tx.Enqueue(job)
		return err
	})
	if err != nil {
		forget()
		return 0, err
	}
	if u.Wake != nil {
		u.Wake()
	}
	return id, nil
}

// putObject streams file into Objects as the upload of meetingID.
func (u *Uploads) putObject(meetingID, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return u.Objects.PutFrom(UploadObject(meetingID), f, fi.Size())
}

// fetch copies the upload of meetingID from Objects into Dir (a
// ".part" file, which a crash leaves to CleanPartial) and returns its
// path; the caller removes it.
func (u *Uploads) fetch(meetingID string) (string, error) {
	rd, err := u.Objects.Open(UploadObject(meetingID))
	if errors.Is(err, objects.ErrNotFound) {
		return "", Permanent(err)
	}
	if err != nil {
		return "", err
	}
	defer rd.Close()
	if err := os.MkdirAll(u.Dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(u.Dir, meetingID+"-*.part")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, rd)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// Handler transcribes the upload (one mixed source, diarized into
// SPEAKER_1, SPEAKER_2, …) and, with the job's completion, replaces the
// meeting's segments: a job that runs twice writes once.
func (u *Uploads) Handler() Handler {
	return func(ctx context.Context, j store.Job) (Result, error) {
		var up Upload
		if err := json.Unmarshal(j.Payload, &up); err != nil || up.MeetingID == "" || up.File != filepath.Base(up.File) {
			return Result{}, Permanent(fmt.Errorf("bad upload payload: %v", err))
		}
		m, err := u.Store.Meeting(ctx, up.MeetingID)
		if errors.Is(err, store.ErrNotFound) {
			return Result{}, Permanent(fmt.Errorf("meeting %s was deleted", up.MeetingID))
		}
		if err != nil {
			return Result{}, err
		}
		path := filepath.Join(u.Dir, up.File)
		if u.Objects != nil && j.Node == "" {
			if path, err = u.fetch(up.MeetingID); err != nil {
				return Result{}, err
			}
			defer os.Remove(path)
		}
		r, err := audiofile.Open(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, audiofile.ErrUnsupportedFormat) || errors.Is(err, audiofile.ErrEmpty) {
				err = Permanent(err)
			}
			return Result{}, err
		}
		defer r.Close()
		progress := &uploadProgress{total: r.Info().Duration.Seconds()}
		u.running.Store(up.MeetingID, progress)
		defer u.running.Delete(up.MeetingID)
		t, err := Transcribe(ctx, []Source{{Name: up.Name, Audio: r}}, TranscribeOptions{
			Meeting: m, Engine: u.Engine, Diarize: true, Speakers: up.Speakers, Language: up.Language, Logger: u.Logger, Progress: progress,
			// The file is read again to diarize it: memory stays at the
			// features, however long the recording.
			Reopen: func() (diarize.SampleSource, io.Closer, error) {
				r, err := audiofile.Open(path)
				return r, r, err
			}})
		if err != nil {
			return Result{}, err
		}
		return Result{Write: func(tx *store.Tx) error {
			bySpeaker := map[string][]transcript.Segment{}
			for _, s := range t.Segments {
				bySpeaker[s.SpeakerID] = append(bySpeaker[s.SpeakerID], s)
			}
			for _, sp := range t.Speakers {
				if err := tx.PutSpeaker(up.MeetingID, sp); err != nil {
					return err
				}
			}
			for id, segs := range bySpeaker {
				if err := tx.ReplaceSegments(up.MeetingID, id, 0, math.MaxFloat64, segs); err != nil {
					return err
				}
			}
			if u.Summaries != nil {
				if _, err := tx.Enqueue(u.Summaries.job(up.MeetingID, false)); err != nil {
					return err
				}
			}
			return nil
		}, After: func() {
			if u.Summaries != nil && u.Summaries.Wake != nil {
				u.Summaries.Wake()
			}
		}}, nil
	}
}

// CleanPartial removes the partial uploads (".part") a crash left in
// dir, and returns how many.
func CleanPartial(dir string) int {
	parts, _ := filepath.Glob(filepath.Join(dir, "*.part"))
	n := 0
	for _, p := range parts {
		if os.Remove(p) == nil {
			n++
		}
	}
	return n
}
