package jobs

import (
	"context"
	"log/slog"
	"strings"

	"github.com/parleyhq/parley/internal/diarize"
	"github.com/parleyhq/parley/internal/speech"
	"github.com/parleyhq/parley/internal/transcript"
)

// Store is what the meeting's finishing work needs of the store.
type Store interface {
	Segments(ctx context.Context, meetingID string) ([]transcript.Segment, error)
	PutSpeaker(ctx context.Context, meetingID string, s transcript.Speaker) error
	// ReplaceSegments replaces speakerID's segments starting in
	// [from, to) with segs, in one transaction.
	ReplaceSegments(ctx context.Context, meetingID, speakerID string, from, to float64, segs []transcript.Segment) error
}

// Finisher runs when a meeting's live transcription has ended and every
// segment is committed: each shared-microphone stretch is diarized and its
// segments split at speaker changes and labelled "<name> · speaker N".
type Finisher struct {
	Store  Store
	Logger *slog.Logger
}

var _ speech.Finisher = (*Finisher)(nil)

// FinishMeeting implements speech.Finisher. Errors are logged (the
// participant's own labels stay); the spool files are removed.
func (f *Finisher) FinishMeeting(ctx context.Context, meetingID string, mics []speech.SharedMic) {
	log := f.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, mic := range mics {
		if err := f.sharedMic(ctx, meetingID, mic); err != nil {
			log.Error("shared microphone diarization", "meeting", meetingID, "speaker", mic.SpeakerID, "err", err)
		}
		mic.Spool.Remove()
	}
}

// sharedMic relabels one stretch, in one store transaction.
func (f *Finisher) sharedMic(ctx context.Context, meetingID string, mic speech.SharedMic) error {
	sp := mic.Spool
	if sp.Empty() {
		return nil
	}
	rd, err := sp.Reader()
	if err != nil {
		return err
	}
	opts := diarize.Options{MaxSpeakers: 8}
	if mic.Speakers > 0 {
		opts = diarize.Options{Speakers: mic.Speakers}
	}
	turns, err := diarize.DiarizeSource(ctx, rd, opts)
	if err != nil || len(turns) == 0 {
		return err
	}
	// A segment belongs to the stretch if it starts in it; the second of
	// slack catches the last utterance's words, dated after the audio's
	// end by the VAD's hangover.
	from, to := sp.Origin(), sp.Origin()+sp.Duration()+1
	all, err := f.Store.Segments(ctx, meetingID)
	if err != nil {
		return err
	}
	var mine []transcript.Segment
	for _, s := range all {
		if s.SpeakerID == mic.SpeakerID && s.Start >= from && s.Start < to {
			mine = append(mine, s)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	relabelled := Attribute(mine, turns, from)
	for i, s := range relabelled {
		n, ok := strings.CutPrefix(s.SpeakerID, "SPEAKER_")
		if !ok { // not attributed to a turn: keep the participant
			relabelled[i].SpeakerID, relabelled[i].Speaker = mic.SpeakerID, mic.Name
			continue
		}
		relabelled[i].SpeakerID = mic.SpeakerID + "#" + n
		relabelled[i].Speaker = mic.Name + " · speaker " + n
		if err := f.Store.PutSpeaker(ctx, meetingID, transcript.Speaker{ID: relabelled[i].SpeakerID, Name: relabelled[i].Speaker}); err != nil {
			return err
		}
	}
	return f.Store.ReplaceSegments(ctx, meetingID, mic.SpeakerID, from, to, relabelled)
}
