package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/leak"
	"github.com/parleyhq/parley/internal/testkit/natstest"
	"github.com/parleyhq/parley/internal/testkit/pgtest"
	"github.com/parleyhq/parley/internal/testkit/ports"
)

// TestNATSOutage: a node of a cluster whose NATS server stops. The
// meeting under way goes on (its participants stay, and still talk to
// the node); a new join gets a clear error (503 no_node) in bounded time
// rather than a room made behind the cluster's back; once NATS is back,
// joins work again.
func TestNATSOutage(t *testing.T) {
	nc := natstest.Start(t, 1)
	dsn := pgtest.Database(t)
	addr := ports.FreeAddr(t)
	srv := start(t, func(c *config.Config) {
		c.Listen, c.PublicURL = addr, "http://"+addr
		c.NATS, c.Postgres, c.NodeID = nc.URLs(), dsn, "lone-node"
	})
	ada, _ := joinAs(t, srv, "outage-room", "Ada")
	defer ada.Drop()

	nc.StopServer(0)
	time.Sleep(500 * time.Millisecond)
	if n := srv.Rooms.Participants("outage-room"); n != 1 {
		t.Fatalf("the meeting lost its participant with NATS down: %d", n)
	}
	if err := ada.Send(map[string]any{"type": "chat", "text": "still here"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ada.WaitFor(ctxT(t, 5*time.Second), func(m client.Message) bool { return m.Type == "chat" }); err != nil {
		t.Fatalf("the meeting stopped answering with NATS down: %v", err)
	}
	bob := dial(t, srv)
	defer bob.Drop()
	t0 := time.Now()
	_, err := bob.JoinToken(ctxT(t, 20*time.Second), "another-room", "Bob")
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != 503 || he.Code != int(signal.CodeNoNode) {
		t.Fatalf("a join with NATS down: %v, want 503 no_node", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("the refusal took %v", d)
	}

	nc.StartServer(t, 0)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := bob.Join(ctx, "another-room", "Bob")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("joins did not come back with NATS: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestDrainWait: a node told to drain (--drain-wait) takes no new room
// (a join at it for a new room is sent to the other node) while its own
// meeting goes on; the wait ends as soon as that meeting ends.
func TestDrainWait(t *testing.T) {
	nc := natstest.Start(t, 1)
	dsn := pgtest.Database(t)
	// One goroutine baseline for both (start's own would count the first
	// node's goroutines, still starting, against the second).
	before := leak.Take()
	var nodes []*Server
	for _, id := range []string{"node-a", "node-b"} {
		cfg := testConfig(t)
		addr := ports.FreeAddr(t)
		cfg.Listen, cfg.PublicURL = addr, "http://"+addr
		cfg.NATS, cfg.Postgres, cfg.NodeID = nc.URLs(), dsn, id
		srv, err := New(cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, srv)
	}
	t.Cleanup(func() {
		for _, srv := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			cancel()
		}
		before.Check(t, 5*time.Second)
	})
	a, b := nodes[0], nodes[1]
	ada, _ := joinAs(t, a, "draining-room", "Ada")
	if a.Rooms.Participants("draining-room") != 1 {
		t.Fatal("Ada's room is not on node A")
	}
	drained := make(chan time.Duration, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t0 := time.Now()
	go func() { a.Drain(ctx); drained <- time.Since(t0) }()
	// The registry says A drains once Drain has written it.
	time.Sleep(500 * time.Millisecond)
	bob := dial(t, a)
	defer bob.Drop()
	if _, err := bob.Join(ctxT(t, 10*time.Second), "fresh-room", "Bob"); err != nil {
		t.Fatal(err)
	}
	if b.Rooms.Participants("fresh-room") != 1 || a.Rooms.Participants("fresh-room") != 0 {
		t.Errorf("a new room asked of a draining node: on A %d, on B %d, want it on B", a.Rooms.Participants("fresh-room"), b.Rooms.Participants("fresh-room"))
	}
	if a.Rooms.Participants("draining-room") != 1 {
		t.Error("the draining node's meeting did not go on")
	}
	select {
	case d := <-drained:
		t.Fatalf("the drain ended after %v with a meeting still on", d)
	default:
	}
	ada.Close()
	select {
	case d := <-drained:
		t.Logf("drain ended %v after it began, once its meeting ended", d)
	case <-time.After(10 * time.Second):
		t.Fatal("the drain did not end when its last meeting did")
	}
}
