package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/natstest"
	"github.com/parleyhq/parley/internal/testkit/pgtest"
)

// TestCascadedRoom: a webinar larger than its node. Node 0 takes two
// participants (--max-participants 2): a speaker publishing her
// microphone and a simulcast camera, and a host. Two listeners ask nodes
// 1 and 2; node 0 is full, so each is served by the node it asked (an
// edge), to which node 0 relays the speaker's tracks over NATS. Each
// listener is in the same meeting, sees the speaker listed, receives her
// audio and video, is told the meeting is transcribed (the host turned
// it on at node 0) and gets its live captions.
func TestCascadedRoom(t *testing.T) {
	pkts := bridgePackets(t)
	nc := natstest.Start(t, 3)
	dsn := pgtest.Database(t)
	nodes := []*node{startNode(t, "node-0", nc.URLs()[0], dsn, "--max-participants", "2", "--asr-engine", "pocketsphinx")}
	for i := 1; i < 3; i++ {
		nodes = append(nodes, startNode(t, fmt.Sprint("node-", i), nc.URLs()[i], dsn))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	speaker, joined, err := joinVia(ctx, nodes[0], "webinar-room", "Speaker")
	if err != nil {
		t.Fatal(err)
	}
	defer speaker.Drop()
	mic, err := speaker.PublishAudio(ctx, client.AudioOptions{Packets: pkts})
	if err != nil {
		t.Fatal(err)
	}
	cam, err := speaker.PublishVideo(ctx, client.VideoOptions{Simulcast: true})
	if err != nil {
		t.Fatal(err)
	}
	host, _, err := joinVia(ctx, nodes[0], "webinar-room", "Host")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Drop()
	host.Send(map[string]any{"type": "transcription", "enabled": true})
	waitLoad(t, nc, "node-0", 2)

	tracks := map[string]string{"audio": speaker.ServerTrackID(mic.ClientID), "video": speaker.ServerTrackID(cam.ClientID)}
	for i, n := range nodes[1:] {
		l, lj, err := joinVia(ctx, n, "webinar-room", fmt.Sprint("Listener ", i+1))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Drop()
		if lj.MeetingID != joined.MeetingID {
			t.Errorf("listener %d is in meeting %q, the speaker in %q", i+1, lj.MeetingID, joined.MeetingID)
		}
		if socket := l.SocketURL(); socket != "ws://"+n.base[len("http://"):]+"/ws" {
			t.Errorf("listener %d's socket is %s, want the node asked (%s)", i+1, socket, n.base)
		}
		// The speaker is listed (at once, or once the edge has heard from
		// node 0), and her tracks arrive.
		if _, err := l.WaitFor(ctx, func(m client.Message) bool {
			return m.Type == "participant_joined" && m.Participant != nil && m.Participant.Name == "Speaker" ||
				m.Type == "joined" && slices.Contains(strings.Split(names(m), ","), "Speaker")
		}); err != nil {
			t.Fatalf("listener %d never saw the speaker: %v", i+1, err)
		}
		for kind, id := range tracks {
			for {
				if r := l.Received()[id]; r != nil && r.Packets.Load() > 50 {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("listener %d on node %d: no %s from the speaker (received %v)", i+1, i+1, kind, l.Received())
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		if _, err := l.WaitFor(ctx, func(m client.Message) bool {
			return (m.Type == "transcription" || m.Type == "joined") && strings.Contains(string(m.Raw), `"enabled":true`)
		}); err != nil {
			t.Fatalf("listener %d was never told the meeting is transcribed: %v", i+1, err)
		}
		for len(finalCaptions(l)) == 0 {
			if ctx.Err() != nil {
				t.Fatalf("listener %d got no caption", i+1)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("listener %d on node %d receives the speaker's audio and video, and captions (%q)", i+1, i+1, finalCaptions(l)[0])
	}
}

// cpuTicks is a process's user and system CPU time so far, in clock
// ticks (1/100 s).
func cpuTicks(tb testing.TB, pid int) int64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// The fields after the command name (which may hold spaces): state is
	// the first, utime the 12th, stime the 13th.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}

// BenchmarkEdgeRelay measures what a subscriber costs a node when the
// track is relayed to it from another node (cascading) against when the
// track is published on the node itself. Three nodes: node 0 takes one
// participant, a speaker (Opus and a three-layer simulcast camera) in
// room A; eight listeners of room A ask node 1, which serves them as an
// edge. Then a speaker in room B on node 2 and eight listeners there:
// local subscribers. Each for 8 s, twice, alternately; reported: CPU
// time of the serving node per packet its listeners received, and of
// node 0 per packet it relayed.
//
//	go test ./cmd/parley -run '^$' -bench EdgeRelay -benchtime 1x
func BenchmarkEdgeRelay(b *testing.B) {
	pkts := bridgePackets(b)
	nc := natstest.Start(b, 3)
	dsn := pgtest.Database(b)
	lift := []string{"--ip-sockets", "10000", "--ip-joins-per-second", "10000", "--ip-join-burst", "10000",
		"--ip-rooms-per-minute", "100000", "--ip-room-burst", "10000"}
	nodes := []*node{startNode(b, "node-0", nc.URLs()[0], dsn, append(lift, "--max-participants", "1")...)}
	for i := 1; i < 3; i++ {
		nodes = append(nodes, startNode(b, fmt.Sprint("node-", i), nc.URLs()[i], dsn, lift...))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	speak := func(via *node, room string) *client.Client {
		c, _, err := joinVia(ctx, via, room, "Speaker")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.PublishAudio(ctx, client.AudioOptions{Packets: pkts, Loop: true}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.PublishVideo(ctx, client.VideoOptions{Simulcast: true}); err != nil {
			b.Fatal(err)
		}
		return c
	}
	a, bb := speak(nodes[0], "relay-room"), speak(nodes[2], "local-room")
	defer a.Drop()
	defer bb.Drop()
	waitLoad(b, nc, "node-0", 1) // full: the listeners go to an edge
	// measure joins eight listeners of room through via, lets media
	// settle, and returns the CPU ticks of the serving node (and of node
	// 0) per thousand packets the listeners received over 8 s.
	measure := func(via *node, room string) (serving, home float64) {
		var ls []*client.Client
		for i := range 8 {
			l, _, err := joinVia(ctx, via, room, fmt.Sprint("Listener ", i))
			if err != nil {
				b.Fatal(err)
			}
			ls = append(ls, l)
		}
		defer func() {
			for _, l := range ls {
				l.Drop()
			}
		}()
		time.Sleep(4 * time.Second)
		count := func() (n uint64) {
			for _, l := range ls {
				for _, r := range l.Received() {
					n += r.Packets.Load()
				}
			}
			return n
		}
		p0, c0, h0 := count(), cpuTicks(b, via.cmd.Process.Pid), cpuTicks(b, nodes[0].cmd.Process.Pid)
		time.Sleep(8 * time.Second)
		p1, c1, h1 := count(), cpuTicks(b, via.cmd.Process.Pid), cpuTicks(b, nodes[0].cmd.Process.Pid)
		if p1 <= p0 {
			b.Fatalf("%s: the listeners received nothing", room)
		}
		b.Logf("%s: %d packets received in 8 s; serving node %.0f %% of a core, node 0 %.0f %%", room, p1-p0, float64(c1-c0)/8, float64(h1-h0)/8)
		per := func(ticks int64) float64 { return float64(ticks) * 10e3 / float64(p1-p0) } // µs per packet
		return per(c1 - c0), per(h1 - h0)
	}
	var edge, local, home []float64
	for i := 0; i < b.N; i++ {
		for range 2 {
			e, h := measure(nodes[1], "relay-room")
			l, _ := measure(nodes[2], "local-room")
			edge, local, home = append(edge, e), append(local, l), append(home, h)
		}
	}
	mean := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}
	b.ReportMetric(mean(edge), "edge-µs/pkt")
	b.ReportMetric(mean(local), "local-µs/pkt")
	b.ReportMetric(mean(edge)/mean(local), "edge/local")
	b.Logf("CPU per packet a listener received: edge node %.1f µs %v, local node %.1f µs %v; node 0 (the speaker's, relaying) %.1f µs %v",
		mean(edge), edge, mean(local), local, mean(home), home)
}
