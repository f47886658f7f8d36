package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/parleyhq/parley/internal/testkit/natstest"
)

func join(t *testing.T, urls []string, id string, load *int) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o := Options{URLs: urls, NodeID: id, PublicURL: "http://" + id + ".test", Capacity: 100, Heartbeat: 200 * time.Millisecond}
	if load != nil {
		var mu sync.Mutex
		o.Load = func() int { mu.Lock(); defer mu.Unlock(); return *load }
	}
	c, err := Join(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPlacement: three nodes on a real three-server NATS cluster. A room
// is placed on exactly one node however many nodes place it at once;
// new rooms go to the least loaded node; a draining node takes none; a
// node that dies (stops renewing) drops out of the registry by itself
// and its rooms move on their next placement; a released room is placed
// afresh.
func TestPlacement(t *testing.T) {
	nc := natstest.Start(t, 3)
	urls := nc.URLs()
	loads := map[string]*int{"a": new(int), "b": new(int), "c": new(int)}
	*loads["a"], *loads["b"], *loads["c"] = 5, 1, 9
	nodes := map[string]*Cluster{}
	for _, id := range []string{"a", "b", "c"} {
		// Each node speaks to its own NATS server.
		nodes[id] = join(t, []string{urls[len(nodes)]}, id, loads[id])
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
	})
	ctx := context.Background()
	// Each node registered through its own server: the others' entries
	// may take a moment to be read back through a's (CI, 2026-12-07: c
	// missing just after joining).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		l, err := nodes["a"].Nodes(ctx)
		if err == nil && len(l) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry: %+v %v", l, err)
		}
	}

	// The same room placed by all three at once: one answer.
	var wg sync.WaitGroup
	got := make([]string, 30)
	for i := range got {
		wg.Go(func() {
			n, err := nodes[string(rune('a'+i%3))].Place(ctx, "board-meeting")
			if err != nil {
				t.Error(err)
			}
			got[i] = n.ID
		})
	}
	wg.Wait()
	for _, g := range got {
		if g != "b" {
			t.Fatalf("placements of one room: %v, want all on b (the least loaded)", got)
		}
	}

	// Draining: b takes no new room; a (5) is then the least loaded.
	if err := nodes["b"].Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := nodes["c"].Place(ctx, "standup"); err != nil || n.ID != "a" {
		t.Fatalf("with b draining: %+v %v", n, err)
	}
	if n, _ := nodes["c"].Place(ctx, "board-meeting"); n.ID != "b" {
		t.Fatalf("a draining node lost its room: %+v", n)
	}

	// a records the meeting going on in its room; only the room's node
	// may, and only it reads it back.
	started := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	if err := nodes["a"].SetMeeting(ctx, "standup", "MT_standup1", started); err != nil {
		t.Fatal(err)
	}
	if err := nodes["c"].SetMeeting(ctx, "standup", "MT_other", started); err != nil {
		t.Fatal(err)
	}
	if err := nodes["a"].SetTranscribing(ctx, "standup", true); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := nodes["c"].Meeting(ctx, "standup"); ok {
		t.Error("a node that does not host the room reads its meeting")
	}

	// a dies without a word (its heartbeat stops): gone from the registry
	// within its TTL, and its room moves to a live node, with its meeting.
	close(nodes["a"].stop)
	<-nodes["a"].done
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, _ := nodes["c"].Nodes(ctx)
		if len(l) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a dead node is still registered: %+v", l)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n, err := nodes["b"].Place(ctx, "standup"); err != nil || n.ID != "c" {
		t.Fatalf("the dead node's room: %+v %v, want it on c (b is draining)", n, err)
	}
	if m, ok, err := nodes["c"].Meeting(ctx, "standup"); err != nil || !ok || m.ID != "MT_standup1" || !m.Started.Equal(started) || !m.Transcribing {
		t.Fatalf("the meeting the moved room continues: %+v %v %v, want MT_standup1 from %v, transcribed", m, ok, err, started)
	}
	nodes["a"].nc.Close()
	delete(nodes, "a")
	// c cannot hand the room over: b, the only other node, is draining.
	if _, err := nodes["c"].Handover(ctx, "standup"); !errors.Is(err, ErrNoNode) {
		t.Errorf("handover with no other node taking rooms: %v, want ErrNoNode", err)
	}

	// Released by its node, a room is placed afresh; a release by
	// another node changes nothing.
	if err := nodes["b"].Release(ctx, "standup"); err != nil {
		t.Fatal(err)
	}
	if n, _ := nodes["b"].Place(ctx, "standup"); n.ID != "c" {
		t.Fatalf("released by a node that does not host it: %+v", n)
	}
	if err := nodes["c"].Release(ctx, "standup"); err != nil {
		t.Fatal(err)
	}
	*loads["c"] = 0
	time.Sleep(300 * time.Millisecond) // a heartbeat with the new load
	if n, _ := nodes["b"].Place(ctx, "standup"); n.ID != "c" {
		t.Fatalf("after release: %+v", n)
	}

	// Claim prefers the claiming node for a room with no placement, and
	// follows the placement of one that has it.
	if n, err := nodes["b"].Claim(ctx, "fresh-room"); err == nil || n.ID != "" {
		// b is draining: it takes nothing, and sends the room to c.
		if err != nil || n.ID != "c" {
			t.Fatalf("claim by a draining node: %+v %v", n, err)
		}
	}
	if n, err := nodes["c"].Claim(ctx, "board-meeting"); err != nil || n.ID != "b" {
		t.Fatalf("claim of a placed room: %+v %v", n, err)
	}

	// No node that takes rooms: a clear error.
	nodes["c"].Drain(ctx)
	if _, err := nodes["b"].Place(ctx, "new-room"); err != ErrNoNode {
		t.Fatalf("every node draining: %v", err)
	}
}

// TestPlacementSurvivesANATSServer: with the NATS server a node speaks to
// stopped (one of three), placements go on (the client moves, the
// buckets are replicated), and the server comes back.
func TestPlacementSurvivesANATSServer(t *testing.T) {
	nc := natstest.Start(t, 3)
	urls := nc.URLs()
	a := join(t, urls, "a", nil)
	defer a.Close()
	ctx := context.Background()
	if _, err := a.Place(ctx, "room-1"); err != nil {
		t.Fatal(err)
	}
	// The server this node speaks to goes: the client moves to another,
	// the buckets' leaders may move too.
	down := -1
	for i, u := range urls {
		if u == a.nc.ConnectedUrl() {
			down = i
		}
	}
	nc.StopServer(down)
	for i := range 5 {
		// The first waits for the client to reconnect and the buckets'
		// leaders to be elected again: 10 s was once not enough in CI,
		// with the other packages' tests on the same two cores.
		wait := 10 * time.Second
		if i == 0 {
			wait = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(ctx, wait)
		start := time.Now()
		n, err := a.Place(ctx, fmt.Sprint("room-after-", i))
		cancel()
		if err != nil || n.ID != "a" {
			t.Fatalf("with a NATS server down: %+v %v (after %v)", n, err, time.Since(start))
		}
		if i == 0 {
			t.Logf("first placement with a NATS server down: %v", time.Since(start))
		}
	}
	nc.StartServer(t, down)
	if n, err := a.Place(ctx, "room-1"); err != nil || n.ID != "a" {
		t.Fatalf("after the server came back: %+v %v", n, err)
	}
}

// TestBell: each token put in the job work queue is taken by one runner
// of the two that take them; a bell that takes none only rings.
func TestBell(t *testing.T) {
	nc := natstest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	heard := map[string]int{}
	var bells []*Bell
	for _, name := range []string{"a", "b"} {
		b, err := DialBell(ctx, nc.URLs(), Auth{}, name, func() { mu.Lock(); heard[name]++; mu.Unlock() })
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		bells = append(bells, b)
	}
	ringer, err := DialBell(ctx, nc.URLs(), Auth{}, "ringer", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ringer.Close()
	const tokens = 20
	for range tokens {
		ringer.Ring()
	}
	for {
		mu.Lock()
		total := heard["a"] + heard["b"]
		mu.Unlock()
		if total == tokens {
			break
		}
		if total > tokens || ctx.Err() != nil {
			t.Fatalf("tokens taken: %v, want %d in all", heard, tokens)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if heard["a"]+heard["b"] != tokens {
		t.Errorf("tokens taken: %v, want %d in all (each once)", heard, tokens)
	}
	t.Logf("tokens taken: %v", heard)
}

// TestNKeyAuth: a NATS server that admits one NKey; a node with its seed
// joins, one with another seed is refused.
func TestNKeyAuth(t *testing.T) {
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.nk"), filepath.Join(dir, "bad.nk")
	os.WriteFile(good, seed, 0o600)
	os.WriteFile(bad, otherSeed, 0o600)
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Join(ctx, Options{URLs: []string{s.ClientURL()}, Auth: Auth{NKeyFile: good}, NodeID: "a", PublicURL: "http://a"})
	if err != nil {
		t.Fatalf("with the admitted NKey: %v", err)
	}
	c.Close()
	if c, err := Join(ctx, Options{URLs: []string{s.ClientURL()}, Auth: Auth{NKeyFile: bad}, NodeID: "b", PublicURL: "http://b"}); err == nil {
		c.Close()
		t.Fatal("another NKey was admitted")
	}
	if _, err := Join(ctx, Options{URLs: []string{s.ClientURL()}, Auth: Auth{NKeyFile: good, CredsFile: good}, NodeID: "c"}); err == nil {
		t.Error("a credentials file and an NKey at once were taken")
	}
}
