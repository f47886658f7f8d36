package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parleyhq/parley/internal/cluster"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/natstest"
	"github.com/parleyhq/parley/internal/testkit/pgtest"
	"github.com/parleyhq/parley/internal/testkit/ports"
	"github.com/parleyhq/parley/internal/transcript"
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
	if a2.MeetingID != adaJoined.MeetingID {
		t.Errorf("after the kill the room holds meeting %s, not the one it continues (%s): one meeting, one transcript", a2.MeetingID, adaJoined.MeetingID)
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
func waitLoad(t testing.TB, nc *natstest.Cluster, id string, load int) {
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

// TestFailoverKeepsTheTranscript: a transcribed meeting on one of two
// nodes; the node is killed (SIGKILL) while someone speaks. Everyone comes
// back through the other node into the same meeting, whose captions
// resume without anyone turning transcription on again; the transcript
// (one meeting) holds every segment whose final caption was sent before
// the kill and those spoken after.
func TestFailoverKeepsTheTranscript(t *testing.T) {
	pkts := bridgePackets(t)
	nc := natstest.Start(t, 1)
	dsn := pgtest.Database(t)
	nodes := []*node{
		startNode(t, "node-0", nc.URLs()[0], dsn, "--asr-engine", "pocketsphinx"),
		startNode(t, "node-1", nc.URLs()[0], dsn, "--asr-engine", "pocketsphinx"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	finals := finalCaptions
	speak := func(via *node) *client.Client {
		spk, _ := rejoin(t, ctx, via, "failover-room", "Bridge")
		if _, err := spk.PublishAudio(ctx, client.AudioOptions{Packets: pkts}); err != nil {
			t.Fatal(err)
		}
		return spk
	}
	waitFinals := func(obs *client.Client, n int) {
		for len(finals(obs)) < n {
			if ctx.Err() != nil {
				t.Fatalf("%d final captions, want %d", len(finals(obs)), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	obs, joined, err := joinVia(ctx, nodes[0], "failover-room", "Observer")
	if err != nil {
		t.Fatal(err)
	}
	obs.Send(map[string]any{"type": "transcription", "enabled": true})
	spk := speak(nodes[0])
	waitFinals(obs, 3)
	host, other := nodes[0], nodes[1]
	if !strings.Contains(obs.SocketURL(), strings.TrimPrefix(host.base, "http://")) {
		host, other = other, host
	}
	// Give the placement's record of the transcription a moment, then
	// kill the host while the next utterance is being spoken.
	time.Sleep(300 * time.Millisecond)
	if err := host.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	sent := finals(obs)
	obs.Drop()
	spk.Drop()

	obs2, joined2 := rejoin(t, ctx, other, "failover-room", "Observer")
	defer obs2.Drop()
	if joined2.MeetingID != joined.MeetingID {
		t.Fatalf("after the failover the room holds meeting %s, want %s continued", joined2.MeetingID, joined.MeetingID)
	}
	spk2 := speak(other)
	defer spk2.Drop()
	waitFinals(obs2, 2)
	after := finals(obs2)
	t.Logf("%d final captions before the kill; captions again %.1f s after it (%d)", len(sent), time.Since(killed).Seconds(), len(after))

	db, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var segs []transcript.Segment
	// The new node commits an utterance a moment after its caption.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if segs, err = db.Segments(ctx, joined.MeetingID); err != nil {
			t.Fatal(err)
		}
		stored := map[string]bool{}
		for _, s := range segs {
			stored[s.Text] = true
		}
		missing := 0
		for _, text := range append(append([]string(nil), sent...), after...) {
			if !stored[text] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d final captions (before the kill: %q; after: %q) have no segment in meeting %s (%d segments)",
				missing, len(sent)+len(after), sent, after, joined.MeetingID, len(segs))
		}
	}
	t.Logf("meeting %s: %d segments, from both nodes", joined.MeetingID, len(segs))
}

// BenchmarkClusterJoins: three nodes (three NATS servers, one
// PostgreSQL) on this machine; 120 people join 30 rooms of four, eight
// joining at a time, each through a node picked in turn (so three in four
// joins of a room arrive at a node that does not host it and follow the
// join answer to the one that does). Reports joins per second (join
// token, socket, "joined") and how the rooms spread over the nodes.
//
//	go test ./cmd/parley -run '^$' -bench ClusterJoins -benchtime 1x
func BenchmarkClusterJoins(b *testing.B) {
	nc := natstest.Start(b, 3)
	dsn := pgtest.Database(b)
	nodes := make([]*node, 3)
	for i := range nodes {
		// Every join comes from 127.0.0.1: lift the per-address limits.
		nodes[i] = startNode(b, fmt.Sprint("node-", i), nc.URLs()[i], dsn, "--ip-sockets", "10000", "--ip-joins-per-second", "10000",
			"--ip-join-burst", "10000", "--ip-rooms-per-minute", "100000", "--ip-room-burst", "10000")
	}
	const rooms, perRoom, parallel = 30, 4, 8
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		type joined struct {
			c    *client.Client
			room string
		}
		out := make(chan joined, rooms*perRoom)
		work := make(chan int)
		start := time.Now()
		var wg sync.WaitGroup
		for range parallel {
			wg.Go(func() {
				for k := range work {
					room := fmt.Sprintf("bench-r%c-room-%c%c", 'a'+i%26, 'a'+k%rooms/26, 'a'+k%rooms%26)
					c, _, err := joinVia(ctx, nodes[k%len(nodes)], room, fmt.Sprint("P", k))
					if err != nil {
						b.Error(err)
						continue
					}
					out <- joined{c, room}
				}
			})
		}
		for k := range rooms * perRoom {
			work <- k
		}
		close(work)
		wg.Wait()
		took := time.Since(start)
		close(out)
		hosts := map[string]map[string]bool{} // node socket → rooms
		for j := range out {
			if hosts[j.c.SocketURL()] == nil {
				hosts[j.c.SocketURL()] = map[string]bool{}
			}
			hosts[j.c.SocketURL()][j.room] = true
			j.c.Drop()
		}
		var spread []int
		for _, rs := range hosts {
			spread = append(spread, len(rs))
		}
		slices.Sort(spread)
		b.ReportMetric(float64(rooms*perRoom)/took.Seconds(), "joins/s")
		b.ReportMetric(float64(spread[0]), "min-rooms/node")
		b.ReportMetric(float64(spread[len(spread)-1]), "max-rooms/node")
		b.Logf("%d joins in %.2f s; rooms per node %v", rooms*perRoom, took.Seconds(), spread)
		cancel()
	}
}
