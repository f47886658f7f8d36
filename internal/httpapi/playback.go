package httpapi

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/record"
	"github.com/parleyhq/parley/internal/signal"
)

// playbackTrack is one recorded microphone as the viewer plays it: its
// file's address and where it sits on the meeting clock.
type playbackTrack struct {
	File          string  `json:"file"`
	ParticipantID string  `json:"participant_id"`
	Name          string  `json:"name"`
	Start         float64 `json:"start"`
	End           float64 `json:"end"`
	URL           string  `json:"url"`
}

// playback answers GET /api/meetings/{id}/playback: the recorded
// microphones of a finished recording, for whoever may read the meeting
// (they were in it; the files themselves, as a ZIP with the cameras,
// are for those who may record and delete). No recording, or one still
// going: an empty list.
func (a *api) playback(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := a.reader(r, id); !ok {
		writeError(w, errNoMeeting)
		return
	}
	tracks := []playbackTrack{}
	if man := a.finishedManifest(id); man != nil {
		for _, f := range man.Files {
			if f.Kind == "audio" && f.Format == "ogg" && f.Source == "microphone" {
				tracks = append(tracks, playbackTrack{File: f.Name, ParticipantID: f.ParticipantID, Name: f.ParticipantName,
					Start: f.Start, End: f.End, URL: "/api/meetings/" + id + "/playback/" + f.Name})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tracks": tracks})
}

func (a *api) finishedManifest(id string) *record.Manifest {
	if a.o.Recordings == nil {
		return nil
	}
	man, err := record.ReadManifest(a.o.Recordings, id)
	if err != nil {
		if !errors.Is(err, objects.ErrNotFound) {
			a.o.Logger.Error("recording manifest not read", "meeting", id, "err", err)
		}
		return nil
	}
	if !man.Complete && !man.Interrupted {
		return nil
	}
	return man
}

// playbackFile answers GET /api/meetings/{id}/playback/{file}: one
// recorded microphone (Ogg/Opus), with byte ranges so a player seeks.
// Only a file the manifest lists as a microphone is served.
func (a *api) playbackFile(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("file")
	if _, ok := a.reader(r, id); !ok {
		writeError(w, errNoMeeting)
		return
	}
	man := a.finishedManifest(id)
	listed := false
	if man != nil {
		for _, f := range man.Files {
			listed = listed || f.Name == name && f.Kind == "audio" && f.Format == "ogg" && f.Source == "microphone"
		}
	}
	if !listed {
		writeError(w, signal.NewError(signal.CodeNotFound, "no such recording"))
		return
	}
	rd, err := a.o.Recordings.Open(id + "/" + name)
	if err != nil {
		writeError(w, signal.NewError(signal.CodeNotFound, "no such recording"))
		return
	}
	defer rd.Close()
	w.Header().Set("Content-Type", "audio/ogg")
	w.Header().Set("Cache-Control", "private, no-store")
	if rs, ok := rd.(io.ReadSeeker); ok {
		http.ServeContent(w, r, name, time.Time{}, rs)
		return
	}
	io.Copy(w, rd)
}
