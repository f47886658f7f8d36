package httpapi

import (
	"archive/zip"
	"errors"
	"io"
	"net/http"

	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/record"
	"github.com/parleyhq/parley/internal/signal"
)

// recording answers GET /api/meetings/{id}/recording: the meeting's
// recording files and their manifest as one ZIP, for those who may
// record and delete it (the room's owner, the meeting's owner and
// moderators); everyone else, and a meeting never recorded, gets the
// 404 of a meeting that does not exist. 409 while it is being recorded.
func (a *api) recording(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if a.o.Recordings == nil {
		writeError(w, signal.NewError(signal.CodeNoRecording, "this server does not record meetings"))
		return
	}
	keyHash, subject := a.credential(r)
	roomID, ok, err := a.o.Store.MayDelete(r.Context(), id, keyHash, subject)
	if err != nil {
		a.o.Logger.Error("recording access check failed", "err", err)
	}
	if !ok || err != nil {
		writeError(w, errNoMeeting)
		return
	}
	man, err := record.ReadManifest(a.o.Recordings, id)
	if errors.Is(err, objects.ErrNotFound) {
		writeError(w, signal.NewError(signal.CodeNotFound, "this meeting was not recorded"))
		return
	}
	if err != nil {
		a.o.Logger.Error("recording manifest not read", "meeting", id, "err", err)
		writeError(w, signal.NewError(signal.CodeInternal, "recording not readable"))
		return
	}
	if !man.Complete {
		writeError(w, signal.NewError(signal.CodeInProgress, "the meeting is being recorded: download it once the recording stops"))
		return
	}
	a.audit(r, roomID, subject, "", "recording_download", id)
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`-recording.zip"`)
	w.Header().Set("Cache-Control", "no-store")
	zw := zip.NewWriter(w)
	if err := writeRecordingZip(zw, a.o.Recordings, id, man); err != nil {
		// Headers are gone: the client sees a truncated archive.
		a.o.Logger.Error("recording download cut short", "meeting", id, "err", err)
		return
	}
	zw.Close()
}

// writeRecordingZip adds the manifest (compressed) and every file the
// manifest lists (stored: Opus and video are compressed already).
func writeRecordingZip(zw *zip.Writer, st objects.Store, id string, man *record.Manifest) error {
	mw, err := zw.Create("manifest.json")
	if err != nil {
		return err
	}
	if err := copyObject(mw, st, record.ManifestKey(id)); err != nil {
		return err
	}
	for _, f := range man.Files {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		if err != nil {
			return err
		}
		if err := copyObject(fw, st, id+"/"+f.Name); err != nil && !errors.Is(err, objects.ErrNotFound) {
			return err
		}
	}
	return nil
}

func copyObject(w io.Writer, st objects.Store, key string) error {
	rd, err := st.Open(key)
	if err != nil {
		return err
	}
	defer rd.Close()
	_, err = io.Copy(w, rd)
	return err
}
