package jobs

import (
	"reflect"
	"testing"

	"github.com/parleyhq/parley/internal/transcript"
)

// TestTranscribedWindows: a speaker is transcribed again only where they
// were transcribed live: transcription on, not opted out.
func TestTranscribedWindows(t *testing.T) {
	evs := []transcript.Event{
		{At: 5, Kind: transcript.TranscriptionOn},
		{At: 20, Kind: transcript.OptOut, SpeakerID: "PA_b"},
		{At: 25, Kind: transcript.OptOut, SpeakerID: "PA_a"}, // someone else
		{At: 30, Kind: transcript.OptIn, SpeakerID: "PA_b"},
		{At: 40, Kind: transcript.TranscriptionOff},
		{At: 50, Kind: transcript.TranscriptionOn},
		{At: 55, Kind: transcript.AudioDropped},
	}
	for _, c := range []struct {
		speaker  string
		from, to float64
		want     []window
	}{
		{"PA_b", 0, 100, []window{{5, 20}, {30, 40}, {50, 100}}},
		{"PA_b", 10, 35, []window{{10, 20}, {30, 35}}},
		{"PA_b", 41, 49, nil},
		{"PA_a", 0, 60, []window{{5, 25}}},
	} {
		if got := transcribedWindows(evs, c.speaker, c.from, c.to); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s in [%v, %v): %v, want %v", c.speaker, c.from, c.to, got, c.want)
		}
	}
	if got := transcribedWindows(nil, "PA_b", 0, 10); got != nil {
		t.Errorf("never transcribed: %v", got)
	}
}
