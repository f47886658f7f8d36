package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/store"
)

// KindRetention is the daily job that deletes the meetings whose
// retention has run out.
const KindRetention = "retention"

// Deleter forgets a meeting: its rows in the store, the files kept for
// it, and a line in its room's audit log saying who deleted it and how
// much, never what it said.
type Deleter struct {
	Store     *store.DB
	SpoolDir  string // data-dir/spool: one folder per meeting
	UploadDir string // data-dir/uploads: UploadFile(meeting)
	// Uploads holds uploads by meeting (UploadObject) when they are kept
	// in shared storage (nil: in UploadDir).
	Uploads objects.Store
	// Recordings holds recordings by meeting (nil: none).
	Recordings objects.Store
	// Locks, shared with the recording jobs (Recordings.Locks), holds a
	// deletion until a finalize of the same meeting is done writing.
	Locks  *MeetingLocks
	Logger *slog.Logger
}

// Delete removes meeting id; by says who asked (Actor, Name, Addr) and
// why (Detail). ErrNotFound (from the store) when there is no such
// meeting.
func (d *Deleter) Delete(ctx context.Context, id string, by store.AuditEntry) (store.Deleted, error) {
	if !room.ValidMeetingID(id) {
		return store.Deleted{}, fmt.Errorf("%w: meeting id %q", store.ErrInvalid, id)
	}
	defer d.Locks.Lock(id)()
	del, err := d.Store.DeleteMeeting(ctx, id, FinalizeKey(id), UploadKey(id))
	if err != nil {
		return del, err
	}
	// Rows first, then files: a crash in between leaves files no row
	// names, which CleanSpool removes at the next start.
	files := 0
	if d.SpoolDir != "" {
		dir := filepath.Join(d.SpoolDir, id)
		entries, _ := os.ReadDir(dir)
		files = len(entries)
		if err := os.RemoveAll(dir); err != nil {
			d.log().Warn("meeting deleted, its spool not", "meeting", id, "err", err)
		}
	}
	if d.UploadDir != "" {
		if err := os.Remove(filepath.Join(d.UploadDir, UploadFile(id))); err == nil {
			files++
		} else if !os.IsNotExist(err) {
			d.log().Warn("meeting deleted, its upload not", "meeting", id, "err", err)
		}
	}
	if d.Uploads != nil {
		n, err := d.Uploads.DeletePrefix(id)
		if err != nil {
			d.log().Warn("meeting deleted, its upload not", "meeting", id, "err", err)
		}
		files += n
	}
	if d.Recordings != nil {
		n, err := d.Recordings.DeletePrefix(id)
		if err != nil {
			d.log().Warn("meeting deleted, its recording not", "meeting", id, "err", err)
		}
		files += n
	}
	by.RoomID, by.Action = del.RoomID, "meeting_deleted"
	by.Detail = strings.TrimSpace(fmt.Sprintf("%s %s segments=%d events=%d files=%d", id, by.Detail, del.Segments, del.Events, files))
	if err := d.Store.Audit(ctx, by); err != nil {
		d.log().Error("meeting deleted, audit row not written", "meeting", id, "err", err)
	}
	return del, nil
}

func (d *Deleter) log() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Retention deletes, once a day, every meeting older than its room's
// retention or, for rooms without their own, Default (0: keep).
type Retention struct {
	Deleter *Deleter
	Default time.Duration
	// Recordings and RecordingsKept: recording files are deleted this
	// long after their meeting started, the transcript kept (0: kept as
	// long as the meeting).
	Recordings     *Recordings
	RecordingsKept time.Duration
	Now            func() time.Time // time.Now when nil
}

func (r *Retention) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Handler is the retention job: it deletes what is due at the time it
// runs, so a run that is retried or repeated deletes nothing twice.
func (r *Retention) Handler() Handler {
	return func(ctx context.Context, _ store.Job) (Result, error) {
		due, err := r.Deleter.Store.MeetingsDue(ctx, r.now(), r.Default)
		if err != nil {
			return Result{}, err
		}
		var errs []error
		for _, m := range due {
			_, err := r.Deleter.Delete(ctx, m.ID, store.AuditEntry{Name: "retention",
				Detail: fmt.Sprintf("kept=%s started=%s", m.Kept, m.Started.UTC().Format(time.RFC3339))})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, err)
			}
		}
		if len(due) > 0 {
			r.Deleter.log().Info("retention: meetings deleted", "due", len(due), "failed", len(errs))
		}
		if r.Recordings != nil {
			n, err := r.Recordings.expire(ctx, r.now(), r.RecordingsKept)
			if n > 0 {
				r.Deleter.log().Info("retention: recordings deleted", "meetings", n)
			}
			errs = append(errs, err)
		}
		return Result{}, errors.Join(errs...)
	}
}

// Schedule enqueues the day's retention job; its key is the date, so
// calling it every hour, or from every process, makes one job a day.
func (r *Retention) Schedule(ctx context.Context, q interface {
	Enqueue(context.Context, store.NewJob) (int64, error)
}) error {
	_, err := q.Enqueue(ctx, store.NewJob{Kind: KindRetention, Key: "retention:" + r.now().UTC().Format("2006-01-02"), RunAfter: r.now()})
	return err
}
