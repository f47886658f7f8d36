package jobs

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/diarize"
	"github.com/parleyhq/parley/internal/transcript"
)

// TestAttributeShiftsTurnsByOffset: turns from audio that starts 100 s
// into the meeting label the words spoken then, split at the change.
func TestAttributeShiftsTurnsByOffset(t *testing.T) {
	seg := transcript.Segment{SpeakerID: "PA_room", Speaker: "Room", Start: 101, End: 104, Text: "yes no maybe", Words: []transcript.Word{
		{Word: "yes", Start: 101, End: 101.5}, {Word: "no", Start: 102.5, End: 103}, {Word: "maybe", Start: 103.2, End: 104},
	}}
	// Unsorted on purpose: Attribute sorts.
	turns := []diarize.Turn{{Speaker: "SPEAKER_2", Start: 2.2, End: 4.5}, {Speaker: "SPEAKER_1", Start: 0.5, End: 2}}
	got := Attribute([]transcript.Segment{seg}, turns, 100)
	if len(got) != 2 || got[0].SpeakerID != "SPEAKER_1" || got[0].Text != "yes" || got[1].SpeakerID != "SPEAKER_2" ||
		got[1].Text != "no maybe" || got[1].Start != 102.5 {
		t.Fatalf("%+v", got)
	}
	// A second speaker heard over the first (an overlap turn) takes no
	// words: "yes" stays with the turn's own speaker.
	// (It overlaps "yes" more than SPEAKER_1's turn does.)
	over := []diarize.Turn{{Speaker: "SPEAKER_1", Start: 0.5, End: 1.2}, {Speaker: "SPEAKER_3", Start: 0.9, End: 1.6, Overlap: true},
		{Speaker: "SPEAKER_2", Start: 2.2, End: 4.5}}
	if got := Attribute([]transcript.Segment{seg}, over, 100); len(got) != 2 || got[0].SpeakerID != "SPEAKER_1" || got[0].Text != "yes" {
		t.Fatalf("with an overlap turn: %+v", got)
	}
	// Without the offset the turns lie 100 s before the words: nothing
	// is near, the segment keeps its speaker.
	if got := Attribute([]transcript.Segment{seg}, turns, 0); len(got) != 1 || got[0].SpeakerID != "PA_room" {
		t.Fatalf("no offset: %+v", got)
	}
}

type empty struct{}

func (empty) Read([]float32) (int, error) { return 0, io.EOF }

func TestTranscribeRejectsNothingAndEmptyAudio(t *testing.T) {
	if _, err := Transcribe(context.Background(), nil, TranscribeOptions{}); err == nil {
		t.Error("no sources: no error")
	}
	_, err := Transcribe(context.Background(), []Source{{Name: "silent.wav", Audio: empty{}}},
		TranscribeOptions{Meeting: transcript.Meeting{ID: "m"}, Engine: nopEngine{}})
	if !errors.Is(err, audiofile.ErrEmpty) {
		t.Errorf("empty source: %v", err)
	}
}

// nopEngine is never asked to recognise anything: the source is empty.
type nopEngine struct{}

func (nopEngine) NewStream(context.Context, *asr.Voice) (asr.Stream, error) {
	return nil, errors.New("unexpected stream")
}
func (nopEngine) Name() string { return "nop" }
func (nopEngine) Close() error { return nil }
