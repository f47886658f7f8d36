package server

import (
	"context"
	"github.com/parleyhq/parley/internal/config"
	"log/slog"
	"path/filepath"

	"github.com/parleyhq/parley/internal/jobs"
	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/record"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/transcript"
)

// sharedObjects is the S3 bucket, when one is configured (else nil).
func sharedObjects(ctx context.Context, cfg config.Config) (*objects.S3, error) {
	if cfg.S3Endpoint == "" {
		return nil, nil
	}
	return objects.NewS3(ctx, objects.S3Config{Endpoint: cfg.S3Endpoint, Bucket: cfg.S3Bucket, Region: cfg.S3Region,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, Insecure: cfg.S3Insecure})
}

// recordingsStore is where recordings go: the bucket when there is one,
// else the recordings directory; nil when recording is off.
func recordingsStore(cfg config.Config, bucket *objects.S3) objects.Store {
	if cfg.Recordings == "off" {
		return nil
	}
	if bucket != nil {
		return bucket
	}
	return objects.Disk{Dir: recordingsDir(cfg.DataDir, cfg.Recordings)}
}

// recordingsDir is where recordings go: --recordings, by default
// <data-dir>/recordings; "" when recording is off.
func recordingsDir(dataDir, flag string) string {
	switch flag {
	case "off":
		return ""
	case "":
		return filepath.Join(dataDir, "recordings")
	}
	return flag
}

// recorder is the room manager's recorder: a recorded meeting has its
// row in the store (so that it can be listed, deleted and retained like
// a transcribed one) before its first file is written.
type recorder struct {
	*record.Recorder
	st *store.DB
}

func (r recorder) StartRecording(m room.MeetingInfo, by room.Speaker) (room.LiveRecording, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10e9)
	defer cancel()
	if _, err := r.st.Meeting(ctx, m.ID); err != nil {
		if err := r.st.CreateMeeting(ctx, transcript.Meeting{ID: m.ID, Title: m.Title, Started: m.Started}); err != nil {
			return nil, err
		}
	}
	return r.Recorder.StartRecording(m, by)
}

// newRecording builds the recorder and its jobs, and queues the
// finalize job of every recording a crash left open.
func (s *Server) newRecording(st objects.Store, log *slog.Logger) (*record.Recorder, *jobs.Recordings) {
	if disk, ok := st.(objects.Disk); ok {
		if n := disk.CleanTemp(); n > 0 {
			log.Info("removed partial manifests (left by a crash)", "files", n)
		}
	}
	jr := &jobs.Recordings{Objects: st, Node: s.node, Queue: s.Store, Wake: s.Jobs.Wake, FinalEngine: s.final, Store: s.Store,
		Locks: s.deleter.Locks, Logger: log}
	rec := record.New(record.Options{Objects: st, Node: s.node, Logger: log, Registerer: s.Registry,
		Finished: func(id string) {
			ctx, cancel := context.WithTimeout(context.Background(), 10e9)
			defer cancel()
			if err := jr.Finished(ctx, id); err != nil {
				log.Error("recording finalize job not queued", "meeting", id, "err", err)
			}
		},
		Ended: func(id string) {
			ctx, cancel := context.WithTimeout(context.Background(), 10e9)
			defer cancel()
			if err := jr.Ended(ctx, id); err != nil {
				log.Error("recorded meeting's final job not queued", "meeting", id, "err", err)
			}
		}})
	jr.Active = rec.Recording
	ctx, cancel := context.WithTimeout(context.Background(), 30e9)
	defer cancel()
	if n, err := jr.Recover(ctx); err != nil {
		log.Error("recordings left open by a crash", "err", err)
	} else if n > 0 {
		log.Info("recordings left open by a crash: finalize jobs queued", "meetings", n)
	}
	s.Jobs.Handlers[jobs.KindFinalizeRecording] = jr.Handler()
	return rec, jr
}
