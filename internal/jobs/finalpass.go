package jobs

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/record"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/transcript"
)

// window is a stretch of the meeting clock.
type window struct{ from, to float64 }

// transcribedWindows are the stretches of [from, to) in which speaker's
// audio was transcribed live: transcription on, the speaker not opted
// out. Only these may be transcribed again: a recording is not consent
// to a transcript.
func transcribedWindows(events []transcript.Event, speaker string, from, to float64) []window {
	evs := append([]transcript.Event(nil), events...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At < evs[j].At })
	on, out := false, false
	var ws []window
	start := 0.0
	open := func() bool { return on && !out }
	for _, e := range evs {
		was := open()
		switch {
		case e.Kind == transcript.TranscriptionOn:
			on = true
		case e.Kind == transcript.TranscriptionOff:
			on = false
		case e.Kind == transcript.OptOut && e.SpeakerID == speaker:
			out = true
		case e.Kind == transcript.OptIn && e.SpeakerID == speaker:
			out = false
		default:
			continue
		}
		switch now := open(); {
		case !was && now:
			start = e.At
		case was && !now:
			ws = append(ws, window{start, e.At})
		}
	}
	if open() {
		ws = append(ws, window{start, to + 1})
	}
	var clipped []window
	for _, w := range ws {
		w.from, w.to = max(w.from, from), min(w.to, to)
		if w.to > w.from {
			clipped = append(clipped, w)
		}
	}
	return clipped
}

// replacement is what a final pass rewrites: one speaker's segments in
// one window.
type replacement struct {
	speaker string
	w       window
	segs    []transcript.Segment
}

// finalPass transcribes a stopped recording's microphones again with the
// final engine and returns the store changes: the live segments kept as
// a revision, then, for each speaker and each window in which they were
// transcribed live, their segments replaced by the new ones. Shared
// microphones are left as they are (their segments are diarized).
func (r *Recordings) finalPass(ctx context.Context, meetingID string) (func(*store.Tx) error, error) {
	t, err := r.Store.Transcript(ctx, meetingID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(t.Segments) == 0) {
		return nil, nil // never transcribed: nothing to transcribe again
	}
	if err != nil {
		return nil, err
	}
	man, err := record.ReadManifest(r.Objects, meetingID)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, sp := range t.Speakers {
		names[sp.ID] = sp.Name
	}
	var repl []replacement
	for _, f := range man.Files {
		if f.Format != "ogg" || f.SharedMic || f.End <= f.Start {
			continue
		}
		ws := transcribedWindows(t.Events, f.ParticipantID, f.Start, f.End)
		if len(ws) == 0 {
			continue
		}
		segs, err := r.transcribeFile(ctx, man, f, t.Meeting)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		name := names[f.ParticipantID]
		if name == "" {
			name = f.ParticipantName
		}
		for _, w := range ws {
			rp := replacement{speaker: f.ParticipantID, w: w}
			for _, s := range segs {
				if s.Start >= w.from && s.Start < w.to {
					s.SpeakerID, s.Speaker = f.ParticipantID, name
					rp.segs = append(rp.segs, s)
				}
			}
			repl = append(repl, rp)
		}
	}
	if len(repl) == 0 {
		return nil, nil
	}
	return func(tx *store.Tx) error {
		if _, err := tx.SaveRevision(meetingID, "live"); err != nil {
			return err
		}
		for _, rp := range repl {
			if err := tx.ReplaceSegments(meetingID, rp.speaker, rp.w.from, rp.w.to, rp.segs); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// transcribeFile recognises one recorded audio file; its segments are
// put on the meeting clock (the file is continuous from its start).
func (r *Recordings) transcribeFile(ctx context.Context, man *record.Manifest, f record.File, m transcript.Meeting) ([]transcript.Segment, error) {
	rd, err := r.Objects.Open(man.MeetingID + "/" + f.Name)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	audio, err := audiofile.NewReader(rd)
	if err != nil {
		return nil, err
	}
	t, err := Transcribe(ctx, []Source{{Speaker: f.ParticipantID, Name: f.Name, Audio: audio}},
		TranscribeOptions{Meeting: m, Engine: r.FinalEngine, Logger: r.Logger})
	if err != nil {
		return nil, err
	}
	for i := range t.Segments {
		s := &t.Segments[i]
		s.Start, s.End = s.Start+f.Start, s.End+f.Start
		for j := range s.Words {
			s.Words[j].Start += f.Start
			s.Words[j].End += f.Start
		}
	}
	return t.Segments, nil
}
