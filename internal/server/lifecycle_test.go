package server

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/client"
)

func TestShutdownTellsEveryoneAndCloses(t *testing.T) {
	before := countGoroutines()
	cfg := testConfig(t)
	srv, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	pubC, subC, _, _ := pair(t, srv)
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	for _, c := range []*client.Client{pubC, subC} {
		if _, err := c.WaitFor(ctxT(t, 2*time.Second), func(m client.Message) bool {
			return m.Type == "bye" && m.Reason == "server_shutdown"
		}); err != nil {
			t.Errorf("participant not told of the shutdown: %v", err)
		}
	}
	if code, err := httpGet(srv.URL() + "/healthz"); err == nil {
		t.Errorf("HTTP still answers after shutdown: %d", code)
	}
	pubC.Drop()
	subC.Drop()
	checkGoroutines(t, before)
}

func TestLostParticipantIsRemovedAfterTimeout(t *testing.T) {
	srv := start(t) // peer timeout 3 s in tests
	pubC, subC, audio, _ := pair(t, srv)
	id := pubC.ID()
	pubC.Drop() // no leave: socket and media gone at once, as a crash
	if _, err := subC.WaitFor(ctxT(t, 3*time.Second), func(m client.Message) bool {
		return m.Type == "participant_updated" && m.Participant.ID == id && !m.Participant.Connected
	}); err != nil {
		t.Fatalf("others not told the participant is disconnected: %v", err)
	}
	t0 := time.Now()
	if _, err := subC.WaitFor(ctxT(t, 8*time.Second), func(m client.Message) bool {
		return m.Type == "participant_left" && m.ParticipantID == id && m.Reason == "connection_lost"
	}); err != nil {
		t.Fatalf("lost participant not removed: %v", err)
	}
	t.Logf("removed %v after the disconnect notice", time.Since(t0).Round(time.Millisecond))
	if _, err := subC.WaitFor(ctxT(t, time.Second), func(m client.Message) bool {
		return m.Type == "track_unpublished" && m.TrackID == audio.ServerID()
	}); err != nil {
		t.Fatalf("lost participant's tracks not removed: %v", err)
	}
}

func TestSocketDropResumesWithoutLosingMedia(t *testing.T) {
	srv := start(t)
	pubC, subC, audio, _ := pair(t, srv)
	id := pubC.ID()
	pubC.DropSocket()
	subC.DropSocket()
	time.Sleep(200 * time.Millisecond)
	for _, c := range []*client.Client{pubC, subC} {
		m, err := c.Reconnect(ctxT(t, 5*time.Second), srv.URL())
		if err != nil {
			t.Fatalf("resume: %v", err)
		}
		if !m.Resumed {
			t.Fatalf("joined without resumed: %s", m.Raw)
		}
	}
	if pubC.ID() != id {
		t.Fatalf("participant id changed on resume: %s → %s", id, pubC.ID())
	}
	flowing(t, subC, audio.ServerID(), 3*time.Second)
	if _, n := srv.Rooms.Stats(); n != 2 {
		t.Fatalf("%d participants after resume, want 2", n)
	}
	// Signalling works on the new sockets: chat round trip.
	if err := pubC.Send(map[string]string{"type": "chat", "text": "back"}); err != nil {
		t.Fatal(err)
	}
	if _, err := subC.WaitFor(ctxT(t, 3*time.Second), func(m client.Message) bool { return m.Type == "chat" && m.Text == "back" }); err != nil {
		t.Fatalf("chat after resume: %v", err)
	}
}

func TestICERestartKeepsMediaFlowing(t *testing.T) {
	srv := start(t)
	pubC, subC, audio, video := pair(t, srv)
	oldPub := pubC.Pub.RemoteDescription().SDP
	oldSub := subC.Sub.RemoteDescription().SDP
	for _, c := range []*client.Client{pubC, subC} {
		if err := c.RestartICE(ctxT(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 5*time.Second, "new subscriber offer", func() bool {
		d := subC.Sub.RemoteDescription()
		return d != nil && iceUfrag(d.SDP) != iceUfrag(oldSub)
	})
	if iceUfrag(pubC.Pub.RemoteDescription().SDP) == iceUfrag(oldPub) {
		t.Fatal("server answer kept its ICE credentials after a restart")
	}
	flowing(t, subC, audio.ServerID(), 5*time.Second)
	flowing(t, subC, video.ServerID(), 5*time.Second)
}
