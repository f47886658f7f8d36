package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/natstest"
	"github.com/parleyhq/parley/internal/testkit/pgtest"
	"github.com/parleyhq/parley/internal/testkit/ports"
)

// TestMain stops the PostgreSQL server the multi-node test starts.
func TestMain(m *testing.M) { pgtest.Main(m) }

// startNode starts one node of a cluster in the test process: its own
// loopback port (its public URL), the shared NATS and PostgreSQL.
func startNode(t *testing.T, id, natsURL, dsn string) *server.Server {
	t.Helper()
	addr := ports.FreeAddr(t)
	srv, _ := startServerWith(t, func(c *config.Config) {
		c.Listen, c.PublicURL = addr, "http://"+addr
		c.NATS, c.Postgres, c.NodeID = []string{natsURL}, dsn, id
	})
	return srv
}

// TestChromiumMeetsOnAnotherNode: two nodes; the meeting lives on node B
// (someone joined it there first); Chromium opens the room's page on
// node A. The join answer names node B, the page (allowed by node A's
// CSP, its origin by node B) moves its socket there, and the two meet:
// one room, on node B, each seeing the other.
func TestChromiumMeetsOnAnotherNode(t *testing.T) {
	nc := natstest.Start(t, 1)
	dsn := pgtest.Database(t)
	a := startNode(t, "node-a", nc.URLs()[0], dsn)
	b := startNode(t, "node-b", nc.URLs()[0], dsn)
	const roomID = "cross-node-room"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bob, err := client.Connect(ctx, b.URL(), client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Drop()
	bobJoined, err := bob.Join(ctx, roomID, "Bob Pion")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.PublishVideo(ctx, client.VideoOptions{}); err != nil {
		t.Fatal(err)
	}
	// Node A lists node B's socket in its pages' CSP once it has read
	// the registry (every heartbeat).
	bSocket := "ws://" + strings.TrimPrefix(b.URL(), "http://")
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(a.URL() + "/")
		if err == nil {
			resp.Body.Close()
			if strings.Contains(resp.Header.Get("Content-Security-Policy"), "connect-src 'self' "+bSocket) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node A's CSP never named node B's socket %s", bSocket)
		}
		time.Sleep(200 * time.Millisecond)
	}

	ada := newBrowser(t, "Ada", browserOptions{})
	adaID := join(t, ada, a.URL()+"/"+roomID, "Ada Chromium")
	if n := b.Rooms.Participants(roomID); n != 2 {
		t.Errorf("node B's room holds %d people, want 2", n)
	}
	if n := a.Rooms.Participants(roomID); n != 0 {
		t.Errorf("node A made the room too (%d people)", n)
	}
	ada.flowing(t, bobJoined.ParticipantID, "video", 20*time.Second) // synthetic frames: bytes, no picture
	if _, err := bob.WaitFor(ctx, func(m client.Message) bool {
		return strings.Contains(string(m.Raw), fmt.Sprintf("%q", adaID)) && strings.Contains(string(m.Raw), "Ada Chromium")
	}); err != nil {
		t.Fatalf("Bob never saw Ada join: %v", err)
	}
	if csp := evalJS[int](t, ada, `(window.__csp || []).length`); csp > 0 {
		t.Errorf("CSP violations: %s", ada.consoleLog())
	}
}
