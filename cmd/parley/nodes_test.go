package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parleyhq/parley/internal/cluster"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/natstest"
	"github.com/parleyhq/parley/internal/testkit/pgtest"
	"github.com/parleyhq/parley/internal/testkit/ports"
)

// node is one `parley serve` process of a cluster.
type node struct {
	cmd  *exec.Cmd
	base string
	dir  string // its --data-dir
}

// startNode runs `parley serve` as one node of a cluster: its own NATS
// server of natsURLs, the shared PostgreSQL database, its own data
// directory and loopback port; extra flags come last (and win).
func startNode(t testing.TB, id, natsURL, dsn string, extra ...string) *node {
	t.Helper()
	addr := ports.FreeAddr(t)
	dir := t.TempDir()
	cmd := parley(append([]string{"serve", "--listen", addr, "--public-url", "http://" + addr, "--data-dir", dir,
		"--udp-port", "0", "--tcp-port", "-1", "--ice-interfaces", "lo", "--media-ip", "127.0.0.1", "--metrics-listen", "",
		"--nats", natsURL, "--postgres", dsn, "--node-id", id, "--asr-engine", "none"}, extra...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	up := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if servingURL.MatchString(sc.Text()) {
				close(up)
			}
		}
	}()
	select {
	case <-up:
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s did not start", id)
	}
	return &node{cmd: cmd, base: "http://" + addr, dir: dir}
}

// joinVia connects to a node and joins room, following the join answer
// to the node the room lives on.
func joinVia(ctx context.Context, n *node, room, name string) (*client.Client, client.Message, error) {
	c, err := client.Connect(ctx, n.base, client.Options{KeepMessages: true})
	if err != nil {
		return nil, client.Message{}, err
	}
	m, err := c.Join(ctx, room, name)
	if err != nil {
		c.Drop()
		return nil, m, err
	}
	return c, m, nil
}

func names(m client.Message) string {
	var out []string
	for _, p := range m.Participants {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}

// TestThreeNodes: three `parley serve` processes sharing a three-server
// NATS cluster and a PostgreSQL database. A join arriving at any node
// lands in the room's one live instance; new rooms spread over the
// nodes; a socket opened on a node the room does not live on is sent
// back; the node hosting a meeting killed with SIGKILL, its participants
// are back together on another node within 10 s.
func TestThreeNodes(t *testing.T) {
	nc := natstest.Start(t, 3)
	dsn := pgtest.Database(t)
	var nodes []*node
	for i, u := range nc.URLs() {
		nodes = append(nodes, startNode(t, fmt.Sprintf("node-%d", i), u, dsn))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ada, adaJoined, err := joinVia(ctx, nodes[0], "board-meeting", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	defer ada.Drop()
	bob, bobJoined, err := joinVia(ctx, nodes[1], "board-meeting", "Bob")
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Drop()
	if bobJoined.MeetingID != adaJoined.MeetingID || names(bobJoined) != "Ada,Bob" && names(bobJoined) != "Bob,Ada" {
		t.Fatalf("Bob, asking node 1, is in meeting %s with %s; Ada is in %s", bobJoined.MeetingID, names(bobJoined), adaJoined.MeetingID)
	}
	// A new room goes to a node with fewer people than node 0's two
	// (once node 0 has published its load, which it does right after a
	// join).
	waitLoad(t, nc, "node-0", 2)
	cleo, cleoJoined, err := joinVia(ctx, nodes[0], "standup-meeting", "Cleo")
	if err != nil {
		t.Fatal(err)
	}
	defer cleo.Drop()
	if cleoJoined.MeetingID == adaJoined.MeetingID {
		t.Fatal("two rooms, one meeting")
	}
	if host := func(n *node) string { return strings.TrimPrefix(n.base, "http://") }; strings.Contains(cleo.SocketURL(), host(nodes[0])) ||
		!strings.Contains(bob.SocketURL(), host(nodes[0])) {
		t.Fatalf("Cleo's new room is on %s (node 0 holds the other room's two); Bob's socket is %s", cleo.SocketURL(), bob.SocketURL())
	}

	// A join token used on a socket of a node the room is not on.
	dan, err := client.Connect(ctx, nodes[2].base, client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer dan.Drop()
	tok, err := dan.JoinToken(ctx, "board-meeting", "Dan")
	if err != nil || tok.SignalURL == "" || !strings.Contains(tok.SignalURL, strings.TrimPrefix(nodes[0].base, "http://")) {
		t.Fatalf("join answer on node 2 for node 0's room: %+v %v", tok, err)
	}
	dan.Send(map[string]any{"type": "join", "token": tok.Token})
	if m, err := dan.WaitFor(ctx, func(m client.Message) bool { return m.Type == "error" || m.Type == "joined" }); err != nil || m.Code != 4035 {
		t.Fatalf("a join on the wrong node: %+v %v, want error 4035 room_elsewhere", m, err)
	}

	// Node 0 dies. Ada and Bob come back, as a browser does, through the
	// nodes that are left, until they are in the room again, together.
	killed := time.Now()
	if err := nodes[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ada.Drop()
	bob.Drop()
	ada2, a2 := rejoin(t, ctx, nodes[1], "board-meeting", "Ada")
	defer ada2.Drop()
	bob2, b2 := rejoin(t, ctx, nodes[2], "board-meeting", "Bob")
	defer bob2.Drop()
	took := time.Since(killed)
	t.Logf("back together %.1f s after the kill, meeting %s", took.Seconds(), b2.MeetingID)
	if a2.MeetingID != b2.MeetingID || names(b2) != "Ada,Bob" && names(b2) != "Bob,Ada" {
		t.Fatalf("after the kill Ada is in %s, Bob in %s with %s", a2.MeetingID, b2.MeetingID, names(b2))
	}
	if took > 10*time.Second {
		t.Errorf("back together %.1f s after the kill: want within 10 s", took.Seconds())
	}
}

// rejoin joins room through via, again and again, as a page whose node
// died does, until it is in.
func rejoin(t testing.TB, ctx context.Context, via *node, room, name string) (*client.Client, client.Message) {
	t.Helper()
	for {
		c, m, err := joinVia(ctx, via, room, name)
		if err == nil {
			return c, m
		}
		if ctx.Err() != nil {
			t.Fatalf("%s never got back in: %v", name, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// BenchmarkFailover kills the node hosting a two-person meeting of three
// nodes (SIGKILL), ten times per iteration (the killed node restarted
// each time), and reports the median and slowest time until both people
// are in the meeting together again through the other nodes.
//
//	go test ./cmd/parley -run '^$' -bench Failover -benchtime 1x
func BenchmarkFailover(b *testing.B) {
	nc := natstest.Start(b, 3)
	dsn := pgtest.Database(b)
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = startNode(b, fmt.Sprint("node-", i), nc.URLs()[i], dsn)
	}
	var took []float64
	for n := range b.N {
		for k := range 10 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			room := fmt.Sprintf("failover-room-%c%c", 'a'+rune(n%26), 'a'+rune(k))
			ada, _, err := joinVia(ctx, nodes[k%3], room, "Ada")
			if err != nil {
				b.Fatal(err)
			}
			bob, _, err := joinVia(ctx, nodes[(k+1)%3], room, "Bob")
			if err != nil {
				b.Fatal(err)
			}
			host := -1
			for i, nd := range nodes {
				if strings.Contains(ada.SocketURL(), strings.TrimPrefix(nd.base, "http://")) {
					host = i
				}
			}
			killed := time.Now()
			nodes[host].cmd.Process.Signal(syscall.SIGKILL)
			nodes[host].cmd.Wait()
			ada.Drop()
			bob.Drop()
			ada2, a2 := rejoin(b, ctx, nodes[(host+1)%3], room, "Ada")
			bob2, b2 := rejoin(b, ctx, nodes[(host+2)%3], room, "Bob")
			if a2.MeetingID != b2.MeetingID {
				b.Fatalf("apart after the kill: %s, %s", a2.MeetingID, b2.MeetingID)
			}
			took = append(took, time.Since(killed).Seconds())
			ada2.Drop()
			bob2.Drop()
			cancel()
			nodes[host] = startNode(b, fmt.Sprint("node-", host), nc.URLs()[host], dsn)
		}
	}
	slices.Sort(took)
	b.ReportMetric(took[len(took)/2], "s-p50")
	b.ReportMetric(took[len(took)-1], "s-max")
	b.Logf("back together after a kill, seconds: %v", took)
}

// waitLoad waits until a node's entry in the registry reports load.
func waitLoad(t *testing.T, nc *natstest.Cluster, id string, load int) {
	t.Helper()
	conn, err := nats.Connect(nc.URLs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	js, _ := jetstream.New(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, cluster.NodesBucket)
	if err != nil {
		t.Fatal(err)
	}
	var n cluster.Node
	for ctx.Err() == nil {
		if e, err := kv.Get(ctx, id); err == nil && json.Unmarshal(e.Value(), &n) == nil && n.Load == load {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s reports load %d, want %d", id, n.Load, load)
}
