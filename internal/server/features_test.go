package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/client"
)

func TestH264IsForwarded(t *testing.T) {
	srv := start(t)
	a, b := dial(t, srv), dial(t, srv)
	for i, c := range []*client.Client{a, b} {
		if _, err := c.Join(ctxT(t, 5*time.Second), "codec-room", []string{"A", "B"}[i]); err != nil {
			t.Fatal(err)
		}
	}
	v, err := a.PublishVideo(ctxT(t, 5*time.Second), client.VideoOptions{Codec: "h264", Simulcast: true})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "published", func() bool { return v.ServerID() != "" })
	flowing(t, b, v.ServerID(), 10*time.Second)
	if codec := b.Received()[v.ServerID()].Codec; codec != "h264" {
		t.Fatalf("received codec %q", codec)
	}
}

func TestActiveSpeakerFollowsAudioLevels(t *testing.T) {
	srv := start(t)
	a, b := dial(t, srv), dial(t, srv)
	for i, c := range []*client.Client{a, b} {
		if _, err := c.Join(ctxT(t, 5*time.Second), "speaker-room", []string{"A", "B"}[i]); err != nil {
			t.Fatal(err)
		}
	}
	quiet := uint8(127)
	ta, err := a.PublishAudio(ctxT(t, 5*time.Second), client.AudioOptions{Level: &quiet})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.PublishAudio(ctxT(t, 5*time.Second), client.AudioOptions{Level: &quiet})
	if err != nil {
		t.Fatal(err)
	}
	ta.SetLevel(20, true) // A talks at -20 dBov
	if _, err := b.WaitFor(ctxT(t, 5*time.Second), func(m client.Message) bool {
		return m.Type == "active_speaker" && m.ParticipantID == a.ID()
	}); err != nil {
		t.Fatalf("A speaking, not announced: %v", err)
	}
	ta.SetLevel(127, false)
	tb.SetLevel(25, true)
	if _, err := a.WaitFor(ctxT(t, 5*time.Second), func(m client.Message) bool {
		return m.Type == "active_speaker" && m.ParticipantID == b.ID()
	}); err != nil {
		t.Fatalf("B speaking, not announced: %v", err)
	}
}

func TestNATIPIsAnnounced(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.Media.NATIP = "203.0.113.7" })
	c := dial(t, srv)
	if _, err := c.Join(ctxT(t, 5*time.Second), "nat-ip-room", "A"); err != nil {
		t.Fatal(err)
	}
	// The answer is applied whether or not media can flow (it cannot:
	// 203.0.113.0/24 is a documentation range), so the error is ignored.
	c.PublishAudio(ctxT(t, 5*time.Second), client.AudioOptions{})
	d := c.Pub.RemoteDescription()
	if d == nil || !strings.Contains(d.SDP, "203.0.113.7") {
		t.Fatalf("answer does not announce the NAT address")
	}
	if strings.Contains(d.SDP, " 127.0.0.1 ") {
		t.Fatalf("answer still announces the private address:\n%s", d.SDP)
	}
}

// TestICETCPFallback joins with a client that can only use TCP, as on a
// network that blocks UDP.
func TestICETCPFallback(t *testing.T) {
	srv := start(t)
	pub := dial(t, srv)
	if _, err := pub.Join(ctxT(t, 5*time.Second), "tcp-only-room", "UDP publisher"); err != nil {
		t.Fatal(err)
	}
	tr, err := pub.PublishAudio(ctxT(t, 5*time.Second), client.AudioOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sub, err := client.Connect(ctx, srv.URL(), client.Options{KeepMessages: true, Networks: []webrtc.NetworkType{webrtc.NetworkTypeTCP4}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Drop() })
	if _, err := sub.Join(ctx, "tcp-only-room", "TCP subscriber"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "published", func() bool { return tr.ServerID() != "" })
	flowing(t, sub, tr.ServerID(), 10*time.Second)
	pair, err := selectedPair(sub.Sub)
	if err != nil || !strings.Contains(pair, "tcp") {
		t.Fatalf("selected pair %q (%v), want tcp", pair, err)
	}
}

func selectedPair(pc *webrtc.PeerConnection) (string, error) {
	for _, s := range pc.GetStats() {
		if cp, ok := s.(webrtc.ICECandidatePairStats); ok && cp.Nominated {
			for _, x := range pc.GetStats() {
				if lc, ok := x.(webrtc.ICECandidateStats); ok && lc.ID == cp.LocalCandidateID {
					return lc.Protocol, nil
				}
			}
		}
	}
	return "", context.DeadlineExceeded
}
