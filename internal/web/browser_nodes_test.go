package web_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
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

// balancer is a TCP load balancer on loopback, as a deployment puts in
// front of its nodes' shared address (--site-url): each connection goes
// to the next backend that accepts it.
type balancer struct {
	ln       net.Listener
	backends []string
	next     atomic.Int64
}

func startBalancer(t *testing.T, backends ...string) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln, backends: backends}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(c)
		}
	}()
	return b
}

func (b *balancer) serve(c net.Conn) {
	defer c.Close()
	start := int(b.next.Add(1))
	for i := range b.backends {
		to, err := net.DialTimeout("tcp", b.backends[(start+i)%len(b.backends)], time.Second)
		if err != nil {
			continue
		}
		defer to.Close()
		go func() { io.Copy(to, c); to.Close() }()
		io.Copy(c, to)
		return
	}
}

func (b *balancer) URL() string { return "http://" + b.ln.Addr().String() }

// TestChromiumFollowsItsMeetingToAnotherNode: two nodes behind one
// address (a load balancer on 127.0.0.1; the nodes on 127.0.0.2 and
// 127.0.0.3, each with its own --public-url). Chromium opens the room at
// the shared address and meets a pion participant; the node hosting the
// meeting drains (SIGTERM's Shutdown). The meeting is handed over: the
// page, told "moved", joins again through the shared address, lands on
// the other node in the same meeting, and receives the other
// participant's video again.
func TestChromiumFollowsItsMeetingToAnotherNode(t *testing.T) {
	nc := natstest.Start(t, 1)
	dsn := pgtest.Database(t)
	addrs := []string{
		strings.Replace(ports.FreeAddr(t), "127.0.0.1", "127.0.0.2", 1),
		strings.Replace(ports.FreeAddr(t), "127.0.0.1", "127.0.0.3", 1),
	}
	lb := startBalancer(t, addrs...)
	var nodes []*server.Server
	var stops []func()
	for i, addr := range addrs {
		srv, stop := startServerWith(t, func(c *config.Config) {
			c.Listen, c.PublicURL, c.SiteURL = addr, "http://"+addr, lb.URL()
			c.NATS, c.Postgres, c.NodeID = []string{nc.URLs()[0]}, dsn, fmt.Sprint("node-", i)
		})
		nodes, stops = append(nodes, srv), append(stops, stop)
	}
	const roomID = "drain-room"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bobJoin := func() (*client.Client, string) {
		// As a page does, again until in: the balancer may hand a
		// connection to the draining node as it closes.
		var bob *client.Client
		var joined client.Message
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			var err error
			if bob, err = client.Connect(ctx, lb.URL(), client.Options{KeepMessages: true}); err == nil {
				if joined, err = bob.Join(ctx, roomID, "Bob Pion"); err == nil {
					break
				}
				bob.Drop()
			}
			if time.Now().After(deadline) {
				t.Fatalf("Bob cannot join through the balancer: %v", err)
			}
		}
		if _, err := bob.PublishVideo(ctx, client.VideoOptions{}); err != nil {
			t.Fatal(err)
		}
		return bob, joined.ParticipantID
	}
	bob, bobID := bobJoin()
	defer func() { bob.Drop() }()
	// The pages' CSP names the nodes' sockets once each node has read the
	// registry.
	time.Sleep(2500 * time.Millisecond)

	ada := newBrowser(t, "Ada", browserOptions{})
	join(t, ada, lb.URL()+"/"+roomID, "Ada Chromium")
	ada.flowing(t, bobID, "video", 20*time.Second)
	host, other, stopHost := nodes[0], nodes[1], stops[0]
	if host.Rooms.Participants(roomID) != 2 {
		host, other, stopHost = nodes[1], nodes[0], stops[1]
	}
	if n := host.Rooms.Participants(roomID); n != 2 {
		t.Fatalf("the hosting node holds %d people, want 2", n)
	}
	r, _ := host.Rooms.Room(roomID)
	meetingID := r.MeetingID()

	drained := make(chan struct{})
	started := time.Now()
	go func() { stopHost(); close(drained) }()
	if _, err := bob.WaitFor(ctx, func(m client.Message) bool { return m.Type == "bye" }); err != nil {
		t.Fatal(err)
	}
	if m := bob.Messages(); !strings.Contains(string(m[len(m)-1].Raw), `"moved"`) {
		t.Errorf("Bob's last message: %s, want bye moved", m[len(m)-1].Raw)
	}
	bob.Drop()
	bob, bobID = bobJoin()

	ada.waitJS(t, 20*time.Second, "Ada back in the meeting",
		`!document.querySelector('#meeting').hidden && !!document.querySelector('#grid .tile--self')`, `document.title`)
	deadline := time.Now().Add(20 * time.Second)
	for other.Rooms.Participants(roomID) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the other node holds %d people, want Ada and Bob", other.Rooms.Participants(roomID))
		}
		time.Sleep(100 * time.Millisecond)
	}
	back := time.Since(started)
	if r, ok := other.Rooms.Room(roomID); !ok || r.MeetingID() != meetingID {
		t.Fatalf("the meeting on the other node is not %s", meetingID)
	}
	ada.flowing(t, bobID, "video", 20*time.Second)
	t.Logf("both back in meeting %s on the other node %.1f s after the drain began", meetingID, back.Seconds())
	select {
	case <-drained:
	case <-time.After(20 * time.Second):
		t.Error("the drained node did not finish shutting down")
	}
	if csp := evalJS[int](t, ada, `(window.__csp || []).length`); csp > 0 {
		t.Errorf("CSP violations: %s", ada.consoleLog())
	}
}
