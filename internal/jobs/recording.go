package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/record"
	"github.com/parleyhq/parley/internal/store"
)

// KindFinalizeRecording finishes a meeting's recording once it stopped,
// or once the server restarts after a crash left it open: torn tails
// cut, manifest completed (record.Finalize).
const KindFinalizeRecording = "finalize_recording"

// Recordings runs the recording jobs.
type Recordings struct {
	Objects objects.Store
	// Node is this node's id: its recording jobs run here (Active and
	// LiveBusy know only this node's meetings).
	Node string
	// Active reports whether a meeting records right now (its files are
	// still being written: finalizing waits for the stop).
	Active func(meetingID string) bool
	Queue  interface {
		Enqueue(context.Context, store.NewJob) (int64, error)
	}
	Wake func()
	// FinalEngine, when set, transcribes the recorded microphones again
	// once a recording stops, replacing the live segments they cover and
	// keeping those as a revision (--final-asr-engine). Store is where
	// the transcript is.
	FinalEngine asr.Engine
	Store       *store.DB
	Logger      *slog.Logger
	// LiveBusy reports whether a meeting's live transcription is still
	// running or finishing (the final pass waits for it).
	LiveBusy func(meetingID string) bool
	// Locks, shared with the Deleter, keeps a deletion of the meeting
	// from running while its recording is being finalized.
	Locks *MeetingLocks
}

type recordingPayload struct {
	MeetingID string `json:"meeting_id"`
	// Final: the meeting is over; the final pass (FinalEngine) runs.
	Final bool `json:"final,omitempty"`
}

// Finished enqueues the finalize job of a recording that stopped; its
// key names the recording's session, so a recording stopped, started
// and stopped again is finalized after each stop.
func (r *Recordings) Finished(ctx context.Context, meetingID string) error {
	man, err := record.ReadManifest(r.Objects, meetingID)
	if err != nil {
		return err
	}
	_, err = r.Queue.Enqueue(ctx, store.NewJob{Kind: KindFinalizeRecording, Node: r.Node,
		Key: fmt.Sprintf("%s:%s:%d", KindFinalizeRecording, meetingID, len(man.Sessions)), Payload: recordingPayload{MeetingID: meetingID}})
	if err == nil && r.Wake != nil {
		r.Wake()
	}
	return err
}

// Ended enqueues the final job of a recorded meeting that is over: its
// recording finalized, then, with a FinalEngine, transcribed again.
func (r *Recordings) Ended(ctx context.Context, meetingID string) error {
	_, err := r.Queue.Enqueue(ctx, store.NewJob{Kind: KindFinalizeRecording, Node: r.Node,
		Key: KindFinalizeRecording + ":" + meetingID + ":end", Payload: recordingPayload{MeetingID: meetingID, Final: true}})
	if err == nil && r.Wake != nil {
		r.Wake()
	}
	return err
}

// Recover enqueues the final job of every recording a crash left open
// (the meeting is over: the process that held it is gone); call it at
// startup, before any meeting records.
func (r *Recordings) Recover(ctx context.Context) (int, error) {
	ids, err := record.Unfinished(r.Objects, r.Node)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, r.Ended(ctx, id))
	}
	return len(ids), errors.Join(errs...)
}

// Handler is the finalize job; running it twice changes nothing more.
func (r *Recordings) Handler() Handler {
	return func(ctx context.Context, j store.Job) (Result, error) {
		var p recordingPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil || objects.CheckKey(p.MeetingID) != nil {
			return Result{}, Permanent(fmt.Errorf("bad payload %s", j.Payload))
		}
		active := r.Active != nil && r.Active(p.MeetingID)
		unlock := r.Locks.Lock(p.MeetingID)
		err := record.Finalize(r.Objects, p.MeetingID, active)
		unlock()
		if errors.Is(err, objects.ErrNotFound) {
			return Result{}, nil // deleted meanwhile
		}
		if err != nil || active || !p.Final || r.FinalEngine == nil || r.Store == nil {
			return Result{}, err
		}
		// The meeting's last live utterances are committed within 30 s of
		// its end: the final pass replaces them only once they are in.
		for wait := time.Now().Add(time.Minute); r.LiveBusy != nil && r.LiveBusy(p.MeetingID); {
			if time.Now().After(wait) {
				return Result{}, errors.New("the live transcript is still being written")
			}
			select {
			case <-ctx.Done():
				return Result{}, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		write, err := r.finalPass(ctx, p.MeetingID)
		return Result{Write: write}, err
	}
}

// expire deletes the recordings of meetings that started before
// now-kept, or before their room's own retain_recording_days when it has
// one (and are not being recorded).
func (r *Recordings) expire(ctx context.Context, now time.Time, kept time.Duration) (int, error) {
	list, err := r.Objects.List("")
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, o := range list {
		id, ok := cutManifest(o.Key)
		if !ok || (r.Active != nil && r.Active(id)) {
			continue
		}
		man, err := record.ReadManifest(r.Objects, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		k := kept
		if r.Store != nil && man.Room != "" {
			if rm, err := r.Store.Room(ctx, man.Room); err == nil && rm.RetainRecordingDays > 0 {
				k = time.Duration(rm.RetainRecordingDays) * 24 * time.Hour
			}
		}
		if k <= 0 || man.Started.Add(k).After(now) {
			continue
		}
		if _, err := r.Objects.DeletePrefix(id); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func cutManifest(key string) (string, bool) {
	id, ok := strings.CutSuffix(key, "/manifest.json")
	return id, ok && !strings.Contains(id, "/") && objects.CheckKey(id) == nil
}
