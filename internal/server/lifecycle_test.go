package server

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/leak"
)

// TestShutdownTellsEveryoneAndCloses: shutdown tells every participant,
// and the sessions end by themselves, well within the bound: the
// context is far longer than the bound, so it is not what ends them.
func TestShutdownTellsEveryoneAndCloses(t *testing.T) {
	before := leak.Take()
	cfg := testConfig(t)
	srv, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	pubC, subC, _, _ := pair(t, srv)
	// The bound is generous for a loopback drain (measured: 5 ms); the
	// context would end a stuck drain only after 30 s.
	const bound = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	err = srv.Shutdown(ctx)
	took := time.Since(t0)
	t.Logf("shutdown took %v", took)
	if err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if ctx.Err() != nil || took > bound {
		t.Fatalf("shutdown took %v (context: %v); want the sessions closed by themselves within %v", took, ctx.Err(), bound)
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
	before.Check(t, 5*time.Second)
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
