package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/leak"
	"github.com/parleyhq/parley/internal/testkit/pgtest"
)

// testConfig keeps everything on loopback: HTTP on port 0, media gathered
// on lo only, ports picked by the kernel.
func testConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Media.UDPPort = 0
	cfg.Media.TCPPort = 0
	cfg.Media.ListenIP = "127.0.0.1"
	cfg.Media.ICEInterfaces = []string{"lo"}
	cfg.Media.PeerTimeout = 3 * time.Second
	cfg.Speech.Engine = "none" // transcription tests turn it on
	// Port 0: two servers in one test process, or two test processes,
	// must not both want the default 9464.
	cfg.MetricsListen = "127.0.0.1:0"
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// TestMain stops the PostgreSQL server the tests on PostgreSQL start.
func TestMain(m *testing.M) { pgtest.Main(m) }

// start runs a server for one test and checks, when the test ends, that
// shutting it down left no goroutine of ours or pion's behind.
func start(t *testing.T, mutate ...func(*config.Config)) *Server {
	t.Helper()
	before := leak.Take()
	cfg := testConfig(t)
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		before.Check(t, 5*time.Second)
	})
	return srv
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, srv *Server) *client.Client {
	t.Helper()
	c, err := client.Connect(ctxT(t, 5*time.Second), srv.URL(), client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Drop() })
	return c
}

// waitUntil polls cond every 50 ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// bytesOf returns the bytes received so far on a track (0 if absent).
func bytesOf(c *client.Client, trackID string) uint64 {
	if r, ok := c.Received()[trackID]; ok {
		return r.Bytes.Load()
	}
	return 0
}

// flowing waits until a track's received byte count grows.
func flowing(t *testing.T, c *client.Client, trackID string, d time.Duration) {
	t.Helper()
	start := bytesOf(c, trackID)
	waitUntil(t, d, fmt.Sprintf("media on %s", trackID), func() bool { return bytesOf(c, trackID) > start+1000 })
}

func TestMeetingEveryoneReceivesEveryone(t *testing.T) {
	srv := start(t)
	t0 := time.Now()
	const n = 3
	room := "test-meeting"
	var clients []*client.Client
	type pub struct{ audio, video *client.LocalTrack }
	var pubs []pub
	for i := 0; i < n; i++ {
		c := dial(t, srv)
		if _, err := c.Join(ctxT(t, 5*time.Second), room, fmt.Sprintf("Person %d", i+1)); err != nil {
			t.Fatal(err)
		}
		a, err := c.PublishAudio(ctxT(t, 5*time.Second), client.AudioOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.PublishVideo(ctxT(t, 5*time.Second), client.VideoOptions{Simulcast: i == 0})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		pubs = append(pubs, pub{a, v})
	}
	t.Logf("joined and published in %v", time.Since(t0))
	for i, c := range clients {
		for j, p := range pubs {
			if i == j {
				continue
			}
			for _, lt := range []*client.LocalTrack{p.audio, p.video} {
				waitUntil(t, 5*time.Second, "server id of "+lt.ClientID, func() bool { return lt.ServerID() != "" })
				flowing(t, c, lt.ServerID(), 10*time.Second)
			}
		}
		t.Logf("client %d receives everything after %v", i, time.Since(t0))
		if got := len(c.Received()); got != 2*(n-1) {
			t.Errorf("client %d receives %d tracks, want %d", i, got, 2*(n-1))
		}
	}
}

// iceUfrag returns the first a=ice-ufrag value of an SDP.
func iceUfrag(sdp string) string {
	for _, l := range strings.Split(sdp, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}
