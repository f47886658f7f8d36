package transcript

import "strings"

// Turn is a stretch of one speaker's speech found by diarization of mixed
// audio (diarize.Turn has the same shape).
type Turn struct {
	Speaker    string
	Start, End float64
}

// nearTurn is how far from any turn a word may be and still be given to
// the nearest one (diarization trims turn edges; a word's times are the
// recogniser's, not the diarizer's).
const nearTurn = 1.0

// Attribute gives each recognised word of segs (recognised from one mixed
// recording, so their Speaker is meaningless) to the diarization turn it
// overlaps most, or the nearest turn within 1 s, and splits a segment where
// the speaker changes. Words with no turn near them keep the speaker of
// their neighbours; segments without words take the turn they overlap most.
// turns must be sorted by start.
func Attribute(segs []Segment, turns []Turn) []Segment {
	if len(turns) == 0 {
		return segs
	}
	var out []Segment
	for _, s := range segs {
		if len(s.Words) == 0 {
			if spk := speakerAt(turns, s.Start, s.End); spk != "" {
				s.Speaker, s.SpeakerID = spk, spk
			}
			out = append(out, s)
			continue
		}
		labels := make([]string, len(s.Words))
		for i, w := range s.Words {
			labels[i] = speakerAt(turns, w.Start, w.End)
		}
		// Unplaced words follow the previous word, or the next one.
		for i := 1; i < len(labels); i++ {
			if labels[i] == "" {
				labels[i] = labels[i-1]
			}
		}
		for i := len(labels) - 2; i >= 0; i-- {
			if labels[i] == "" {
				labels[i] = labels[i+1]
			}
		}
		if labels[0] == "" { // nothing near any word
			out = append(out, s)
			continue
		}
		from := 0
		for i := 1; i <= len(labels); i++ {
			if i < len(labels) && labels[i] == labels[from] {
				continue
			}
			ws := s.Words[from:i]
			out = append(out, Segment{
				SpeakerID: labels[from], Speaker: labels[from],
				Start: ws[0].Start, End: ws[len(ws)-1].End,
				Text: TextOf(ws), Words: append([]Word(nil), ws...),
			})
			from = i
		}
	}
	return Merge(out)
}

// speakerAt is the speaker of the turn overlapping [start, end] most, or of
// the nearest turn within nearTurn, or "".
func speakerAt(turns []Turn, start, end float64) string {
	best, bestOv := "", 0.0
	nearest, nearestD := "", nearTurn
	mid := (start + end) / 2
	for _, t := range turns {
		if t.Start > end+nearTurn {
			break
		}
		if ov := min(end, t.End) - max(start, t.Start); ov > bestOv || (ov == bestOv && ov > 0 && strings.Compare(t.Speaker, best) < 0) {
			best, bestOv = t.Speaker, ov
		}
		d := 0.0
		if mid < t.Start {
			d = t.Start - mid
		} else if mid > t.End {
			d = mid - t.End
		}
		if d < nearestD {
			nearest, nearestD = t.Speaker, d
		}
	}
	if best != "" {
		return best
	}
	return nearest
}
