package room

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/sfu"
)

// conn is a participant's connection as a test sees it: the events the
// room sent, in order.
type conn struct {
	mu     sync.Mutex
	events []Event
	closed string
}

func (c *conn) Send(ev Event) {
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
}

func (c *conn) SendOffer(string, map[string]string) {}

func (c *conn) Close(reason string) {
	c.mu.Lock()
	c.closed = reason
	c.mu.Unlock()
}

// last returns the last event of type T the connection received.
func last[T Event](c *conn) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.events) - 1; i >= 0; i-- {
		if ev, ok := c.events[i].(T); ok {
			return ev, true
		}
	}
	var zero T
	return zero, false
}

// speechLog is a room.Speech that records what the room asks of it; the
// real pipeline is tested in package speech and in the server's live
// tests. start, when set, runs inside Start (to check what the room holds
// while it waits for the store).
type speechLog struct {
	mu     sync.Mutex
	starts []MeetingInfo
	notes  []Note
	ended  int
	fail   error
	start  func()
	// noteErr fails every Note (a store that refuses consent records).
	noteErr error
}

func (s *speechLog) Start(_ context.Context, m MeetingInfo, _ CaptionSink) (LiveTranscript, error) {
	if s.start != nil {
		s.start()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	s.starts = append(s.starts, m)
	return s, nil
}

func (s *speechLog) Attach(*sfu.Track, Speaker) {}
func (s *speechLog) Detach(string)              {}

func (s *speechLog) Note(n Note) error {
	s.mu.Lock()
	s.notes = append(s.notes, n)
	err := s.noteErr
	s.mu.Unlock()
	return err
}

func (s *speechLog) End() {
	s.mu.Lock()
	s.ended++
	s.mu.Unlock()
}

func (s *speechLog) kinds() []NoteKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	var k []NoteKind
	for _, n := range s.notes {
		k = append(k, n.Kind)
	}
	return k
}

func newManager(t testing.TB, sp Speech, peerTimeout time.Duration) *Manager {
	t.Helper()
	s, err := sfu.New(sfu.Options{Interfaces: []string{"lo"}, TCPPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{SFU: s, PeerTimeout: peerTimeout}
	if sp != nil {
		opts.Speech = sp
	}
	m := NewManager(opts)
	t.Cleanup(func() {
		m.Shutdown()
		s.Close()
	})
	return m
}

const roomID = "abc-defg-hijk"

func TestJoinTellsEveryoneAndLeaveEndsTheRoom(t *testing.T) {
	m := newManager(t, nil, 0)
	ca, cb := &conn{}, &conn{}
	a, err := m.Join(roomID, "  Ada ", ca, JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	j, ok := last[Joined](ca)
	if !ok || j.ParticipantID != a.ID() || j.Room != roomID || len(j.Participants) != 1 || j.Participants[0].Name != "Ada" ||
		j.ResumeToken == "" || j.MeetingID == "" || j.TranscriptionAvailable {
		t.Fatalf("joined %+v", j)
	}
	b, err := m.Join(roomID, "Bob", cb, JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pj, ok := last[ParticipantJoined](ca); !ok || pj.Participant.ID != b.ID() || pj.Participant.Name != "Bob" {
		t.Fatalf("Ada was not told Bob joined: %+v", pj)
	}
	if jb, _ := last[Joined](cb); len(jb.Participants) != 2 || jb.Participants[0].ID != a.ID() || jb.MeetingID != j.MeetingID {
		t.Fatalf("Bob's joined %+v", jb)
	}
	if rooms, n := m.Stats(); rooms != 1 || n != 2 {
		t.Fatalf("stats %d rooms %d participants", rooms, n)
	}
	b.Leave()
	if pl, ok := last[ParticipantLeft](ca); !ok || pl.ParticipantID != b.ID() || pl.Reason != ReasonLeft {
		t.Fatalf("Ada was not told Bob left: %+v", pl)
	}
	a.Leave()
	if rooms, n := m.Stats(); rooms != 0 || n != 0 {
		t.Fatalf("after everyone left: %d rooms %d participants", rooms, n)
	}
	if _, ok := m.Room(roomID); ok {
		t.Fatal("the room outlived its last participant")
	}
}

func TestJoinRejectsBadInput(t *testing.T) {
	m := newManager(t, nil, 0)
	if _, err := m.Join("Not A Room!", "Ada", &conn{}, JoinOptions{}); !errors.Is(err, ErrInvalidRoomID) {
		t.Errorf("bad room id: %v", err)
	}
	if _, err := m.Join(roomID, "   ", &conn{}, JoinOptions{}); err == nil {
		t.Error("an empty name was accepted")
	}
	if _, err := m.Resume("no-such-token", &conn{}); !errors.Is(err, ErrResumeFailed) {
		t.Errorf("unknown token: %v", err)
	}
}

// TestResumeKeepsTheParticipant: a socket that drops is not a departure;
// the participant resumes on a new connection with its token, the old one
// is closed as replaced, and the others see it connected again.
func TestResumeKeepsTheParticipant(t *testing.T) {
	m := newManager(t, nil, time.Minute)
	c1, cb := &conn{}, &conn{}
	a, _ := m.Join(roomID, "Ada", c1, JoinOptions{})
	m.Join(roomID, "Bob", cb, JoinOptions{})
	j, _ := last[Joined](c1)
	a.SocketLost(c1)
	if pu, ok := last[ParticipantUpdated](cb); !ok || pu.Participant.ID != a.ID() || pu.Participant.Connected {
		t.Fatalf("Bob was not told Ada's connection is lost: %+v", pu)
	}
	c2 := &conn{}
	p, err := m.Resume(j.ResumeToken, c2)
	if err != nil || p != a {
		t.Fatalf("resume: %v (same participant: %v)", err, p == a)
	}
	if jr, ok := last[Joined](c2); !ok || !jr.Resumed || jr.ParticipantID != a.ID() {
		t.Fatalf("resumed joined %+v", jr)
	}
	if _, n := m.Stats(); n != 2 {
		t.Fatalf("%d participants after the resume", n)
	}
	// A resume on yet another socket replaces the second one.
	c3 := &conn{}
	if _, err := m.Resume(j.ResumeToken, c3); err != nil {
		t.Fatal(err)
	}
	c2.mu.Lock()
	reason := c2.closed
	c2.mu.Unlock()
	if reason != ReasonReplaced {
		t.Fatalf("replaced socket closed with %q", reason)
	}
}

// TestTranscriptionConsent: turning transcription on starts the meeting's
// transcript (without holding the room's lock), records who did it and
// who had opted out, tells everyone; opt-outs are noted while it runs;
// turning it off and the last departure end it.
func TestTranscriptionConsent(t *testing.T) {
	sp := &speechLog{}
	m := newManager(t, sp, 0)
	ca, cb := &conn{}, &conn{}
	a, _ := m.Join(roomID, "Ada", ca, JoinOptions{})
	b, _ := m.Join(roomID, "Bob", cb, JoinOptions{})
	if j, _ := last[Joined](ca); !j.TranscriptionAvailable || j.Transcription.Enabled {
		t.Fatalf("joined %+v", j)
	}
	b.SetOptOut(true) // before transcription: noted when it starts
	r := a.Room()
	// Start waits for the store: the room must stay usable meanwhile.
	sp.start = func() {
		done := make(chan struct{})
		go func() { r.Transcription(); m.Participants(roomID); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("the room's lock is held while the transcript is being created")
		}
	}
	if err := a.SetTranscription(true); err != nil {
		t.Fatal(err)
	}
	if err := a.SetTranscription(true); err != nil { // already on: nothing new
		t.Fatal(err)
	}
	if len(sp.starts) != 1 || sp.starts[0].ID != r.MeetingID() || sp.starts[0].Title != roomID {
		t.Fatalf("starts %+v", sp.starts)
	}
	tc, ok := last[TranscriptionChanged](cb)
	if !ok || !tc.Enabled || tc.By != a.ID() || tc.ByName != "Ada" || tc.MeetingID != r.MeetingID() {
		t.Fatalf("Bob was told %+v", tc)
	}
	cc := &conn{}
	m.Join(roomID, "Carol", cc, JoinOptions{})
	if j, _ := last[Joined](cc); !j.Transcription.Enabled || j.Transcription.By != a.ID() {
		t.Fatalf("a newcomer is not told the meeting is transcribed: %+v", j.Transcription)
	}
	b.SetOptOut(false)
	b.SetOptOut(false) // no change: no note
	if pu, _ := last[ParticipantUpdated](ca); pu.Participant.ID != b.ID() || pu.Participant.TranscriptionOptOut {
		t.Fatalf("opt-in not told: %+v", pu)
	}
	if err := b.SetTranscription(false); err != nil {
		t.Fatal(err)
	}
	// Carol's arrival is in the transcript too.
	want := []NoteKind{NoteTranscriptionOn, NoteOptOut, NoteJoined, NoteOptIn, NoteTranscriptionOff}
	if got := sp.kinds(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("notes %v, want %v", got, want)
	}
	if sp.notes[1].Speaker.ID != b.ID() || sp.notes[2].Speaker.Name != "Carol" || sp.notes[4].Speaker.Name != "Bob" || sp.ended != 1 {
		t.Fatalf("notes %+v, ended %d", sp.notes, sp.ended)
	}
	// On again, then everyone leaves: the transcript ends with the room.
	if err := a.SetTranscription(true); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Participant{a, b} {
		p.Leave()
	}
	if sp.ended != 1 {
		t.Fatalf("ended %d times with Carol still in", sp.ended)
	}
	if got := sp.kinds(); fmt.Sprint(got[len(got)-3:]) != fmt.Sprint([]NoteKind{NoteTranscriptionOn, NoteLeft, NoteLeft}) || sp.notes[len(got)-1].Speaker.Name != "Bob" {
		t.Fatalf("departures: notes %v", got)
	}
	for _, p := range r.everyone() {
		p.Leave()
	}
	if sp.ended != 2 {
		t.Fatalf("ended %d times after the last departure", sp.ended)
	}
}

func TestTranscriptionStartFailureChangesNothing(t *testing.T) {
	sp := &speechLog{fail: errors.New("disk full")}
	m := newManager(t, sp, 0)
	ca := &conn{}
	a, _ := m.Join(roomID, "Ada", ca, JoinOptions{})
	if err := a.SetTranscription(true); err == nil || !errors.Is(err, sp.fail) {
		t.Fatalf("err %v", err)
	}
	if st := a.Room().Transcription(); st.Enabled {
		t.Fatalf("state %+v", st)
	}
	if _, ok := last[TranscriptionChanged](ca); ok {
		t.Fatal("a change that failed was announced")
	}
	mNo := newManager(t, nil, 0)
	p, _ := mNo.Join(roomID, "Ada", &conn{}, JoinOptions{})
	if err := p.SetTranscription(true); !errors.Is(err, ErrTranscriptionUnavailable) {
		t.Fatalf("without speech: %v", err)
	}
}
