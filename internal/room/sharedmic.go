package room

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/audio"
	"github.com/parleyhq/parley/internal/diarize"
	"github.com/parleyhq/parley/internal/transcript"
)

// SetSharedMic marks one of the participant's tracks as a microphone
// several people share (a meeting-room system): after the meeting its
// transcript segments are diarized and labelled "<name> · speaker N".
func (p *Participant) SetSharedMic(trackID string, shared bool, speakers int) error {
	t, ok := p.Peer().Track(trackID)
	if !ok {
		return ErrUnknownTrack
	}
	if !t.SetSharedMic(shared, speakers) {
		return nil
	}
	r := p.room
	r.broadcast(TrackUpdated{Track: t.Info()})
	// A transcribed track restarts its feed, so that the audio spooled for
	// diarization is exactly the shared stretch.
	r.mu.Lock()
	f := r.feeds[t.ID()]
	delete(r.feeds, t.ID())
	r.mu.Unlock()
	if f != nil {
		f.tap.Close()
		r.transcribe(t)
	}
	return nil
}

// spooled is the audio of one shared-microphone stretch waiting for
// diarization when the meeting's transcript session ends.
type spooled struct {
	spool     *audio.Spool
	speakerID string
	name      string
	speakers  int // 0: estimate
}

// newSpool opens the spool file of a shared-microphone feed, or returns
// nil (diarization then skipped, logged) when it cannot.
func (r *Room) newSpool(trackID string) *audio.Spool {
	dir := r.m.opts.Transcription.SpoolDir
	if dir == "" {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, r.meetingID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		r.log.Error("spool dir", "err", err)
		return nil
	}
	s, err := audio.CreateSpool(filepath.Join(dir, fmt.Sprintf("%s-%d.pcm", trackID, time.Now().UnixNano())))
	if err != nil {
		r.log.Error("spool", "err", err)
		return nil
	}
	return s
}

// diarizeSpools relabels each spooled shared-microphone stretch: its
// audio is diarized, its committed segments split at speaker changes and
// given "<name> · speaker N", in one store transaction per stretch. The
// spool files are removed.
func (m *Manager) diarizeSpools(ctx context.Context, meetingID string, spools []spooled) {
	tr := m.opts.Transcription
	for _, sp := range spools {
		if err := m.diarizeSpool(ctx, tr.Store, meetingID, sp); err != nil {
			m.log.Error("shared microphone diarization", "meeting", meetingID, "speaker", sp.speakerID, "err", err)
		}
		sp.spool.Remove()
	}
}

func (m *Manager) diarizeSpool(ctx context.Context, st TranscriptStore, meetingID string, sp spooled) error {
	if sp.spool.Empty() {
		return nil
	}
	rd, err := sp.spool.Reader()
	if err != nil {
		return err
	}
	opts := diarize.Options{MaxSpeakers: 8}
	if sp.speakers > 0 {
		opts = diarize.Options{Speakers: sp.speakers}
	}
	turns, err := diarize.DiarizeSource(ctx, rd, opts)
	if err != nil {
		return err
	}
	if len(turns) == 0 {
		return nil
	}
	from, to := sp.spool.Origin(), sp.spool.Origin()+sp.spool.Duration()+1
	all, err := st.Segments(ctx, meetingID)
	if err != nil {
		return err
	}
	var mine []transcript.Segment
	for _, s := range all {
		if s.SpeakerID == sp.speakerID && s.Start >= from && s.Start < to {
			mine = append(mine, s)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	tt := make([]transcript.Turn, len(turns))
	for i, t := range turns {
		tt[i] = transcript.Turn{Speaker: t.Speaker, Start: t.Start + from, End: t.End + from}
	}
	sort.Slice(tt, func(i, j int) bool { return tt[i].Start < tt[j].Start })
	relabelled := transcript.Attribute(mine, tt)
	for i, s := range relabelled {
		n := strings.TrimPrefix(s.SpeakerID, "SPEAKER_")
		if n == s.SpeakerID { // not attributed to a turn: keep the participant
			relabelled[i].SpeakerID, relabelled[i].Speaker = sp.speakerID, sp.name
			continue
		}
		relabelled[i].SpeakerID = sp.speakerID + "#" + n
		relabelled[i].Speaker = sp.name + " · speaker " + n
		if err := st.PutSpeaker(ctx, meetingID, transcript.Speaker{ID: relabelled[i].SpeakerID, Name: relabelled[i].Speaker}); err != nil {
			return err
		}
	}
	return st.ReplaceSegments(ctx, meetingID, sp.speakerID, from, to, relabelled)
}
