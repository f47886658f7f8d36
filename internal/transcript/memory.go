package transcript

import (
	"context"
	"sync"
)

// Memory is an in-memory SegmentStore for offline transcription (the
// transcribe command), where the transcript is written out at the end.
type Memory struct {
	mu       sync.Mutex
	speakers []Speaker
	segs     []Segment
	events   []Event
}

var _ SegmentStore = (*Memory)(nil)

// PutSpeaker implements SegmentStore.
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

// AppendSegment implements SegmentStore.
func (m *Memory) AppendSegment(_ context.Context, _ string, seg Segment) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.segs = append(m.segs, seg)
	return int64(len(m.segs)), nil
}

// AppendEvent implements SegmentStore.
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
