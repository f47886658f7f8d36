// Package jobs is the work done away from the live media path, and the
// durable queue that runs it (runner.go): the diarization of
// shared-microphone tracks once a meeting's transcription has ended, and
// the attribution of recognised words to diarized speakers (also used by
// offline transcription of mixed recordings).
package jobs

import (
	"sort"

	"github.com/parleyhq/parley/internal/diarize"
	"github.com/parleyhq/parley/internal/transcript"
)

// Attribute gives the words of segs to the diarized turns, which start at
// offset on the segments' clock (the position of the diarized audio in
// the meeting), and splits segments where the speaker changes. Segments
// whose words fall in no turn keep "" as SpeakerID prefix: see
// transcript.Attribute for the rules. Turns are named as diarize names
// them (SPEAKER_1, SPEAKER_2, …). Overlap turns give no words.
func Attribute(segs []transcript.Segment, turns []diarize.Turn, offset float64) []transcript.Segment {
	tt := make([]transcript.Turn, 0, len(turns))
	for _, t := range turns {
		// A second speaker over another's turn: the words there stay with
		// the turn's own speaker, who dominates them.
		if !t.Overlap {
			tt = append(tt, transcript.Turn{Speaker: t.Speaker, Start: t.Start + offset, End: t.End + offset})
		}
	}
	sort.Slice(tt, func(i, j int) bool { return tt[i].Start < tt[j].Start })
	return transcript.Attribute(segs, tt)
}
