package room

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parleyhq/parley/internal/sfu"
)

// TestPeerTimeoutOnFakeClock: a participant whose socket is lost stays
// exactly the peer timeout (20 s) unless it resumes, on synctest's clock.
func TestPeerTimeoutOnFakeClock(t *testing.T) {
	s, err := sfu.New(sfu.Options{Interfaces: []string{"lo"}, TCPPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	// The SFU's sockets and their readers live outside the bubble; its
	// peers are made inside, so it is closed inside too (a WaitGroup used
	// in a bubble must be waited for there).
	synctest.Test(t, func(t *testing.T) {
		defer s.Close()
		m := NewManager(Options{SFU: s, PeerTimeout: 20 * time.Second})
		defer m.Shutdown()
		ca, cb := &conn{}, &conn{}
		a, err := m.Join(roomID, "Ada", ca, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := m.Join(roomID, "Bob", cb, JoinOptions{})
		j, _ := last[Joined](cb)
		ja, _ := last[Joined](ca)
		a.SocketLost(ca)
		time.Sleep(19*time.Second + 900*time.Millisecond)
		synctest.Wait()
		if a.Gone() {
			t.Fatal("Ada removed before the peer timeout")
		}
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if !a.Gone() {
			t.Fatal("Ada still in the room after the peer timeout")
		}
		if pl, ok := last[ParticipantLeft](cb); !ok || pl.ParticipantID != a.ID() || pl.Reason != ReasonConnectionLost {
			t.Fatalf("Bob was told %+v", pl)
		}
		if _, err := m.Resume(ja.ResumeToken, &conn{}); !errors.Is(err, ErrResumeFailed) {
			t.Fatalf("resume after removal: %v", err)
		}
		// Bob's socket drops too, and he resumes after 19 s: he stays,
		// however long the meeting then goes on.
		b.SocketLost(cb)
		time.Sleep(19 * time.Second)
		if _, err := m.Resume(j.ResumeToken, &conn{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if b.Gone() {
			t.Fatal("Bob removed after resuming")
		}
	})
}
