// Package transcript is the meeting transcript as a document: the
// segment/word model, speakers and control events, the timeline that
// merges the segments of several tracks, speaker attribution of words to
// diarized turns, and the export formats (JSON, WebVTT, SRT, Markdown,
// text, RTTM). It imports nothing of this module and runs no goroutine:
// the live pipeline that produces segments is package speech.
//
// Times are seconds from the meeting start (float, rounded to the
// millisecond in exports).
package transcript

import (
	"math"
	"sort"
	"strings"
	"time"
)

// Word is one recognised word on the meeting clock.
type Word struct {
	Word  string  `json:"word"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// Segment is one final utterance of one speaker.
type Segment struct {
	// ID is the store's id of the segment (0 when not stored): what an
	// edit names.
	ID        int64   `json:"id,omitempty"`
	SpeakerID string  `json:"speaker_id,omitempty"`
	Speaker   string  `json:"speaker"` // display name
	Start     float64 `json:"start"`
	End       float64 `json:"end"`
	Text      string  `json:"text"`
	Words     []Word  `json:"words"`
}

// Speaker is one participant (or one diarized voice) of a meeting.
type Speaker struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Meeting identifies the transcript. ID doubles as the RTTM file id.
type Meeting struct {
	ID      string    `json:"id"`
	Title   string    `json:"title,omitempty"`
	Started time.Time `json:"started,omitzero"` // wall clock of meeting time 0
}

// EventKind names a transcription control event.
type EventKind string

// Control events recorded in the transcript so a reader knows what was not
// transcribed and why.
const (
	TranscriptionOn  EventKind = "transcription_on"
	TranscriptionOff EventKind = "transcription_off"
	OptOut           EventKind = "opt_out"       // this speaker's track is not transcribed
	OptIn            EventKind = "opt_in"        // … and is again
	AudioDropped     EventKind = "audio_dropped" // recogniser fell behind; seconds lost in Detail
	Joined           EventKind = "joined"        // the speaker came into the meeting
	Left             EventKind = "left"          // … and left it
)

// Event is a control event on the meeting clock.
type Event struct {
	At        float64   `json:"at"`
	Kind      EventKind `json:"kind"`
	SpeakerID string    `json:"speaker_id,omitempty"`
	Speaker   string    `json:"speaker,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// Transcript is a whole meeting's text.
type Transcript struct {
	Meeting  Meeting   `json:"meeting"`
	Speakers []Speaker `json:"speakers"`
	Segments []Segment `json:"segments"`
	Events   []Event   `json:"events,omitempty"`
	Summary  *Summary  `json:"summary,omitempty"`
}

// Summary is what a language model made of a meeting: a short summary,
// the decisions and the action items, each item citing the segments
// (by ID) it comes from.
type Summary struct {
	Language  string `json:"language"` // ISO 639-1, the meeting's
	Text      string `json:"text"`
	Decisions []Item `json:"decisions"`
	Actions   []Item `json:"actions"`
	// Model names the model that wrote it; Dropped counts the citations
	// it gave that named no segment of the meeting.
	Model   string    `json:"model,omitempty"`
	Created time.Time `json:"created,omitzero"`
	Dropped int       `json:"dropped_citations,omitempty"`
}

// Item is a decision or an action item: what, for an action who and
// when if said, and the segments it comes from.
type Item struct {
	Text     string  `json:"text"`
	Who      string  `json:"who,omitempty"`
	When     string  `json:"when,omitempty"`
	Segments []int64 `json:"segments"`
}

// Sort puts segments on one timeline: by start, then end, then speaker, so
// the order is deterministic. Overlapping speech from two tracks stays two
// segments; nothing is merged or cut. Events are sorted by time.
func (t *Transcript) Sort() {
	sort.SliceStable(t.Segments, func(i, j int) bool { return segLess(t.Segments[i], t.Segments[j]) })
	sort.SliceStable(t.Events, func(i, j int) bool { return t.Events[i].At < t.Events[j].At })
}

func segLess(a, b Segment) bool {
	if a.Start != b.Start {
		return a.Start < b.Start
	}
	if a.End != b.End {
		return a.End < b.End
	}
	return a.Speaker < b.Speaker
}

// Merge builds one timeline from the segments of several tracks.
func Merge(tracks ...[]Segment) []Segment {
	var out []Segment
	for _, tr := range tracks {
		out = append(out, tr...)
	}
	sort.SliceStable(out, func(i, j int) bool { return segLess(out[i], out[j]) })
	return out
}

// SpeakersOf lists the distinct speakers of segments in order of first
// appearance, for transcripts assembled without a participant list.
func SpeakersOf(segs []Segment) []Speaker {
	seen := map[string]bool{}
	var out []Speaker
	for _, s := range segs {
		id := s.SpeakerID
		if id == "" {
			id = s.Speaker
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, Speaker{ID: id, Name: s.Speaker})
		}
	}
	return out
}

// TextOf is the text of a word list.
func TextOf(ws []Word) string {
	parts := make([]string, 0, len(ws))
	for _, w := range ws {
		parts = append(parts, w.Word)
	}
	return strings.Join(parts, " ")
}

// ms rounds seconds to the millisecond, the precision of every export.
func ms(sec float64) float64 { return math.Round(sec*1000) / 1000 }
