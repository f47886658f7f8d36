package transcript

import (
	"context"
	"sync"
)

// Memory keeps a transcript's speakers, segments and events in memory as
// they are appended (offline transcription of files, where the document is
// written out at the end); it has the same append methods as the stores.
type Memory struct {
	mu       sync.Mutex
	speakers []Speaker
	segs     []Segment
	events   []Event
}

// PutSpeaker adds or renames a speaker.
func (m *Memory) PutSpeaker(_ context.Context, _ string, s Speaker) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.speakers {
		if m.speakers[i].ID == s.ID {
			m.speakers[i].Name = s.Name
			return nil
		}
	}
	m.speakers = append(m.speakers, s)
	return nil
}

// AppendSegment adds a final segment.
func (m *Memory) AppendSegment(_ context.Context, _ string, seg Segment) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.segs = append(m.segs, seg)
	return int64(len(m.segs)), nil
}

// AppendEvent adds a control event.
func (m *Memory) AppendEvent(_ context.Context, _ string, e Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
	return nil
}

// Transcript returns what was stored, on one timeline.
func (m *Memory) Transcript(meeting Meeting) *Transcript {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &Transcript{
		Meeting:  meeting,
		Speakers: append([]Speaker{}, m.speakers...),
		Segments: append([]Segment{}, m.segs...),
		Events:   append([]Event(nil), m.events...),
	}
	t.Sort()
	return t
}
