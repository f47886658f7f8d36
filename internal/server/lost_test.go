package server

import (
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/client"
)

// A participant whose media connection is lost while its signalling
// socket stays up is removed after the peer timeout like any other, and
// is told so (bye connection_lost, socket closed): the client can then
// join again rather than stay in a room that no longer has it.
func TestMediaLostWithSocketUpIsTold(t *testing.T) {
	srv := start(t) // peer timeout 3 s in tests
	pubC, subC, _, _ := pair(t, srv)
	id := pubC.ID()
	pubC.Pub.Close()
	pubC.Sub.Close()
	if _, err := subC.WaitFor(ctxT(t, 15*time.Second), func(m client.Message) bool {
		return m.Type == "participant_left" && m.ParticipantID == id && m.Reason == "connection_lost"
	}); err != nil {
		t.Fatalf("participant without media not removed: %v", err)
	}
	if _, err := pubC.WaitFor(ctxT(t, 2*time.Second), func(m client.Message) bool {
		return m.Type == "bye" && m.Reason == "connection_lost"
	}); err != nil {
		t.Fatalf("removed participant not told: %v", err)
	}
	// Nothing more comes: the server closed the socket.
	if _, err := pubC.WaitFor(ctxT(t, 3*time.Second), func(client.Message) bool { return false }); err == nil || !strings.Contains(err.Error(), "socket closed") {
		t.Fatalf("socket of the removed participant not closed: %v", err)
	}
}
