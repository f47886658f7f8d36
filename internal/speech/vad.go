package speech

import (
	"math"

	"github.com/parleyhq/parley/internal/audio/vad"
)

// vadCutter adapts audio/vad's streaming detector to Cutter.
type vadCutter struct{ s *vad.Stream }

// NewVAD returns the VAD the live pipeline uses by default: audio/vad's
// voicing-based detector with its near-field settings (one participant's
// own microphone), which cuts utterances at a pause after 15 s.
func NewVAD() Cutter { return NewVADWith(vad.DefaultConfig()) }

// NewVADWith returns a Cutter over audio/vad with cfg.
func NewVADWith(cfg vad.Config) Cutter { return &vadCutter{s: vad.NewStream(cfg)} }

func (c *vadCutter) Write(pcm []float32) []Boundary { return boundaries(c.s.Write(pcm)) }

func (c *vadCutter) Flush() []Boundary { return boundaries(c.s.Flush()) }

func boundaries(evs []vad.Event) []Boundary {
	if len(evs) == 0 {
		return nil
	}
	out := make([]Boundary, len(evs))
	for i, e := range evs {
		out[i] = Boundary{Start: e.Kind == vad.SpeechStart, At: int64(math.Round(e.At * SampleRate))}
	}
	return out
}
