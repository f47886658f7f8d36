package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/parleyhq/parley/internal/audio"
	"github.com/parleyhq/parley/internal/diarize"
	"github.com/parleyhq/parley/internal/speech"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/transcript"
)

// KindFinalize finishes a meeting once its live transcription has ended
// and every segment is committed: each shared-microphone stretch is
// diarized and its segments split at speaker changes and labelled
// "<name> · speaker N".
const KindFinalize = "finalize_meeting"

// Store is what the meeting's finishing work needs of the store.
type Store interface {
	Segments(ctx context.Context, meetingID string) ([]transcript.Segment, error)
	Enqueue(ctx context.Context, j store.NewJob) (int64, error)
}

// FinalizeKey is the queue key of a meeting's finalize job: one job per
// meeting.
func FinalizeKey(meetingID string) string { return "finalize:" + meetingID }

// Finalize is a finalize job's payload.
type Finalize struct {
	MeetingID string       `json:"meeting_id"`
	Mics      []SpooledMic `json:"mics,omitempty"`
}

// SpooledMic is a shared microphone's audio, kept on disk for the job.
type SpooledMic struct {
	Path      string  `json:"path"`
	SpeakerID string  `json:"speaker_id"` // the participant whose track it is
	Name      string  `json:"name"`
	Speakers  int     `json:"speakers,omitempty"` // people sharing it; 0: estimate
	Origin    float64 `json:"origin"`             // meeting time of the first sample
	Duration  float64 `json:"duration"`           // seconds
}

// Finisher hands a meeting that ended to the durable queue: it closes
// (and syncs) the shared microphones' spools and enqueues the finalize
// job, which diarizes them later, in this process or after a restart.
type Finisher struct {
	Store Store
	// Node is this node's id: the spooled audio is on its disk, so the
	// finalize job runs here.
	Node string
	Wake func() // the runner's Wake (optional)
	// Summaries, when set, queues each meeting's summary; it runs once
	// the meeting's other jobs are done.
	Summaries *Summaries
	Logger    *slog.Logger
}

var _ speech.Finisher = (*Finisher)(nil)

// FinishMeeting implements speech.Finisher.
func (f *Finisher) FinishMeeting(ctx context.Context, meetingID string, mics []speech.SharedMic) {
	log := f.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if f.Summaries != nil {
		defer func() {
			if err := f.Summaries.Enqueue(ctx, meetingID, false); err != nil {
				log.Error("summary job not queued", "meeting", meetingID, "err", err)
			}
		}()
	}
	job := Finalize{MeetingID: meetingID}
	for _, mic := range mics {
		if mic.Spool.Empty() {
			mic.Spool.Remove()
			continue
		}
		if err := mic.Spool.Close(); err != nil {
			log.Error("shared microphone audio not kept; it will not be diarized", "meeting", meetingID, "err", err)
			os.Remove(mic.Spool.Path())
			continue
		}
		job.Mics = append(job.Mics, SpooledMic{Path: mic.Spool.Path(), SpeakerID: mic.SpeakerID, Name: mic.Name, Speakers: mic.Speakers,
			Origin: mic.Spool.Origin(), Duration: mic.Spool.Duration()})
	}
	if len(job.Mics) == 0 {
		return
	}
	if _, err := f.Store.Enqueue(ctx, store.NewJob{Kind: KindFinalize, Key: FinalizeKey(meetingID), Node: f.Node, Payload: job}); err != nil {
		log.Error("finalize job not queued; the shared microphones stay undiarized", "meeting", meetingID, "err", err)
		for _, m := range job.Mics {
			os.Remove(m.Path)
		}
		return
	}
	if f.Wake != nil {
		f.Wake()
	}
}

// FinalizeHandler runs finalize jobs: it diarizes each spooled shared
// microphone and returns the relabelled segments as one write; the
// spool files are removed once that write is committed.
func FinalizeHandler(st Store, log *slog.Logger) Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, j store.Job) (Result, error) {
		var p Finalize
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.MeetingID == "" {
			return Result{}, Permanent(fmt.Errorf("finalize payload: %v", err))
		}
		var writes []func(*store.Tx) error
		var files []string
		for _, mic := range p.Mics {
			files = append(files, mic.Path)
			w, err := sharedMic(ctx, st, p.MeetingID, mic)
			if errors.Is(err, fs.ErrNotExist) {
				// Gone (removed by hand, or a disk replaced): the
				// participant's own label stays.
				log.Warn("shared microphone audio missing; not diarized", "meeting", p.MeetingID, "path", mic.Path)
				continue
			}
			if err != nil {
				return Result{}, fmt.Errorf("shared microphone %s: %w", mic.SpeakerID, err)
			}
			if w != nil {
				writes = append(writes, w)
			}
		}
		return Result{
			Write: func(tx *store.Tx) error {
				for _, w := range writes {
					if err := w(tx); err != nil {
						return err
					}
				}
				return nil
			},
			After: func() {
				for _, f := range files {
					os.Remove(f)
				}
				if len(files) > 0 {
					os.Remove(filepath.Dir(files[0])) // the meeting's spool directory, once empty
				}
			},
		}, nil
	}
}

// sharedMic diarizes one stretch and returns the write that relabels
// its segments (nil when there is nothing to relabel).
func sharedMic(ctx context.Context, st Store, meetingID string, mic SpooledMic) (func(*store.Tx) error, error) {
	rd, f, err := audio.ReadSpool(mic.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opts := diarize.Options{MaxSpeakers: 8}
	if mic.Speakers > 0 {
		opts = diarize.Options{Speakers: mic.Speakers}
	}
	turns, err := diarize.DiarizeSource(ctx, rd, opts)
	if err != nil || len(turns) == 0 {
		return nil, err
	}
	// A segment belongs to the stretch if it starts in it; the second of
	// slack catches the last utterance's words, dated after the audio's
	// end by the VAD's hangover.
	from, to := mic.Origin, mic.Origin+mic.Duration+1
	all, err := st.Segments(ctx, meetingID)
	if err != nil {
		return nil, err
	}
	var mine []transcript.Segment
	for _, s := range all {
		if s.SpeakerID == mic.SpeakerID && s.Start >= from && s.Start < to {
			mine = append(mine, s)
		}
	}
	if len(mine) == 0 {
		return nil, nil
	}
	relabelled := Attribute(mine, turns, from)
	var speakers []transcript.Speaker
	for i, s := range relabelled {
		n, ok := strings.CutPrefix(s.SpeakerID, "SPEAKER_")
		if !ok { // not attributed to a turn: keep the participant
			relabelled[i].SpeakerID, relabelled[i].Speaker = mic.SpeakerID, mic.Name
			continue
		}
		relabelled[i].SpeakerID = mic.SpeakerID + "#" + n
		relabelled[i].Speaker = mic.Name + " · speaker " + n
		speakers = append(speakers, transcript.Speaker{ID: relabelled[i].SpeakerID, Name: relabelled[i].Speaker})
	}
	return func(tx *store.Tx) error {
		for _, sp := range speakers {
			if err := tx.PutSpeaker(meetingID, sp); err != nil {
				return err
			}
		}
		return tx.ReplaceSegments(meetingID, mic.SpeakerID, from, to, relabelled)
	}, nil
}

// CleanSpool removes the spool files no unfinished or dead finalize job
// refers to: what a crash left between a meeting's end and its job's
// enqueue, or between a job's commit and its clean-up. Run it at start,
// before any meeting begins.
func CleanSpool(ctx context.Context, dir string, jobs func(ctx context.Context, state string, limit int) ([]store.Job, error)) (removed int, err error) {
	keep := map[string]bool{}
	for _, state := range []string{store.JobQueued, store.JobRunning, store.JobDead} {
		js, err := jobs(ctx, state, 100000)
		if err != nil {
			return 0, err
		}
		for _, j := range js {
			if j.Kind != KindFinalize {
				continue
			}
			var p Finalize
			if json.Unmarshal(j.Payload, &p) == nil {
				for _, m := range p.Mics {
					keep[filepath.Clean(m.Path)] = true
				}
			}
		}
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || keep[filepath.Clean(path)] {
			return nil
		}
		if os.Remove(path) == nil {
			removed++
		}
		return nil
	})
	// Empty meeting directories go too (a non-empty one refuses).
	if entries, rerr := os.ReadDir(dir); rerr == nil {
		for _, e := range entries {
			if e.IsDir() {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	return removed, err
}
