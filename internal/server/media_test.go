package server

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/client"
)

// pair joins a publisher and a subscriber; the publisher sends audio and
// simulcast video.
func pair(t *testing.T, srv *Server) (pubC, subC *client.Client, audio, video *client.LocalTrack) {
	t.Helper()
	pubC, subC = dial(t, srv), dial(t, srv)
	if _, err := pubC.Join(ctxT(t, 5*time.Second), "media-room", "Publisher"); err != nil {
		t.Fatal(err)
	}
	if _, err := subC.Join(ctxT(t, 5*time.Second), "media-room", "Subscriber"); err != nil {
		t.Fatal(err)
	}
	var err error
	if audio, err = pubC.PublishAudio(ctxT(t, 5*time.Second), client.AudioOptions{}); err != nil {
		t.Fatal(err)
	}
	if video, err = pubC.PublishVideo(ctxT(t, 5*time.Second), client.VideoOptions{Simulcast: true}); err != nil {
		t.Fatal(err)
	}
	for _, lt := range []*client.LocalTrack{audio, video} {
		waitUntil(t, 5*time.Second, "published", func() bool { return lt.ServerID() != "" })
		flowing(t, subC, lt.ServerID(), 10*time.Second)
	}
	return
}

// growth returns how many bytes of a track arrive during d.
func growth(c *client.Client, trackID string, d time.Duration) uint64 {
	b := bytesOf(c, trackID)
	time.Sleep(d)
	return bytesOf(c, trackID) - b
}

// stopped waits for in-flight packets to drain, then checks nothing more
// arrives for 700 ms.
func stopped(t *testing.T, c *client.Client, trackID string) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if g := growth(c, trackID, 700*time.Millisecond); g != 0 {
		t.Fatalf("track %s still delivers %d bytes", trackID, g)
	}
}

func TestMuteStopsMediaAndIsSignalled(t *testing.T) {
	srv := start(t)
	pubC, subC, audio, video := pair(t, srv)
	for _, lt := range []*client.LocalTrack{audio, video} {
		id := lt.ServerID()
		if err := pubC.Mute(lt, true); err != nil {
			t.Fatal(err)
		}
		if _, err := subC.WaitFor(ctxT(t, 3*time.Second), func(m client.Message) bool {
			return m.Type == "track_updated" && m.Track.ID == id && m.Track.Muted
		}); err != nil {
			t.Fatalf("no muted track_updated for %s: %v", lt.Kind, err)
		}
		stopped(t, subC, id)
		if err := pubC.Mute(lt, false); err != nil {
			t.Fatal(err)
		}
		if _, err := subC.WaitFor(ctxT(t, 3*time.Second), func(m client.Message) bool {
			return m.Type == "track_updated" && m.Track.ID == id && !m.Track.Muted
		}); err != nil {
			t.Fatalf("no unmuted track_updated for %s: %v", lt.Kind, err)
		}
		flowing(t, subC, id, 5*time.Second)
	}
	if d := srv.SFU.Metrics().Snapshot().Drops["muted"]; d == 0 {
		t.Error("muted drops not counted in metrics")
	}
}

func TestUnpublishAndLeaveRemoveTracks(t *testing.T) {
	srv := start(t)
	pubC, subC, audio, video := pair(t, srv)
	vid := video.ServerID()
	if err := pubC.Unpublish(ctxT(t, 5*time.Second), video); err != nil {
		t.Fatal(err)
	}
	if _, err := subC.WaitFor(ctxT(t, 3*time.Second), func(m client.Message) bool {
		return m.Type == "track_unpublished" && m.TrackID == vid
	}); err != nil {
		t.Fatalf("no track_unpublished: %v", err)
	}
	stopped(t, subC, vid)
	flowing(t, subC, audio.ServerID(), 3*time.Second)

	aid := audio.ServerID()
	pid := pubC.ID()
	if err := pubC.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	if _, err := subC.WaitFor(ctxT(t, 3*time.Second), func(m client.Message) bool {
		return m.Type == "participant_left" && m.ParticipantID == pid && m.Reason == "left"
	}); err != nil {
		t.Fatalf("no participant_left: %v", err)
	}
	if _, err := subC.WaitFor(ctxT(t, 3*time.Second), func(m client.Message) bool {
		return m.Type == "track_unpublished" && m.TrackID == aid
	}); err != nil {
		t.Fatalf("no track_unpublished for the audio of a participant who left: %v", err)
	}
	stopped(t, subC, aid)
	if _, n := srv.Rooms.Stats(); n != 1 {
		t.Fatalf("%d participants left on the server, want 1", n)
	}
}

// rate measures a track's receive bitrate over d.
func rate(c *client.Client, trackID string, d time.Duration) float64 {
	return float64(growth(c, trackID, d)) * 8 / d.Seconds()
}

func TestSimulcastSubscriberSwitchesLayers(t *testing.T) {
	srv := start(t)
	_, subC, _, video := pair(t, srv)
	id := video.ServerID()
	// The synthetic layers send 150 kb/s, 500 kb/s and 1.5 Mb/s of
	// payload (the client's VideoOptions.Bitrates, the browser's
	// encodings). Each band is 0.6 to 1.6 times its layer's rate: RTP
	// headers and the keyframe that starts a layer add up to about 15 %
	// over one second. The bands do not touch (240k < 300k, 800k < 900k),
	// so a subscriber served the wrong layer falls outside its own.
	cases := []struct {
		layer    string
		min, max float64
	}{
		{"low", 90e3, 240e3},
		{"high", 900e3, 2.4e6},
		{"medium", 300e3, 800e3},
	}
	for _, c := range cases {
		if err := subC.Subscribe(id, c.layer, false); err != nil {
			t.Fatal(err)
		}
		// The switch waits for a keyframe of the new layer: a second that
		// spans it mixes both. Two seconds in a row inside the band are
		// the new layer alone.
		var got []float64
		in := func(r float64) bool { return r >= c.min && r <= c.max }
		for deadline := time.Now().Add(8 * time.Second); ; {
			got = append(got, rate(subC, id, time.Second))
			if n := len(got); n >= 2 && in(got[n-1]) && in(got[n-2]) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("layer %s: receiving %.0f b/s in successive seconds, want two in %.0f-%.0f", c.layer, got, c.min, c.max)
			}
		}
		t.Logf("layer %s: %.0f kb/s", c.layer, got[len(got)-1]/1000)
	}
}

func TestPausedTrackStopsFlowing(t *testing.T) {
	srv := start(t)
	_, subC, audio, video := pair(t, srv)
	for _, lt := range []*client.LocalTrack{video, audio} {
		id := lt.ServerID()
		if err := subC.Subscribe(id, "", true); err != nil {
			t.Fatal(err)
		}
		stopped(t, subC, id)
		if err := subC.Subscribe(id, "", false); err != nil {
			t.Fatal(err)
		}
		flowing(t, subC, id, 5*time.Second)
	}
}

// TestBandwidthEstimateCapsLayer: a subscriber that asks for the high
// layer but reports (REMB) only 300 kb/s while losing 20 % of what it is
// sent (a narrow link) gets a lower layer, and the high layer again when
// its estimate recovers. The same REMB without loss (a jittery link,
// round trips measured and steady) keeps the high layer.
func TestBandwidthEstimateCapsLayer(t *testing.T) {
	srv := start(t)
	pubC := dial(t, srv)
	if _, err := pubC.Join(ctxT(t, 5*time.Second), "media-room", "Publisher"); err != nil {
		t.Fatal(err)
	}
	video, err := pubC.PublishVideo(ctxT(t, 5*time.Second), client.VideoOptions{Simulcast: true})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "published", func() bool { return video.ServerID() != "" })
	id := video.ServerID()
	join := func(name string, o client.Options) *client.Client {
		o.KeepMessages = true
		c, err := client.Connect(ctxT(t, 5*time.Second), srv.URL(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Drop() })
		if _, err := c.Join(ctxT(t, 5*time.Second), "media-room", name); err != nil {
			t.Fatal(err)
		}
		flowing(t, c, id, 10*time.Second)
		waitUntil(t, 5*time.Second, name+" on the high layer", func() bool { return rate(c, id, 500*time.Millisecond) > 900e3 })
		return c
	}
	narrow := join("Narrow", client.Options{NoReports: true})
	jittery := join("Jittery", client.Options{})
	var lost uint32
	var seq uint32 = 1 << 16 // extended: the count of cycles does not matter, its steps do
	report := func(c *client.Client, bps float32, loss uint32, until func() bool) {
		deadline := time.Now().Add(8 * time.Second)
		for !until() {
			if time.Now().After(deadline) {
				t.Fatalf("layer did not follow a REMB of %.0f b/s", bps)
			}
			if err := c.SendREMB(id, bps); err != nil {
				t.Fatal(err)
			}
			if c == narrow {
				seq += 150
				lost += 150 * loss / 100
				if err := c.SendLossReport(id, seq, lost); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	report(narrow, 300e3, 20, func() bool { r := rate(narrow, id, 500*time.Millisecond); return r > 50e3 && r < 350e3 })
	report(narrow, 5e6, 0, func() bool { return rate(narrow, id, 500*time.Millisecond) > 900e3 })
	start := time.Now()
	report(jittery, 300e3, 0, func() bool {
		if r := rate(jittery, id, 500*time.Millisecond); r < 900e3 {
			t.Fatalf("after %v of a low REMB without loss or queue: %.0f b/s, want the high layer", time.Since(start), r)
		}
		return time.Since(start) > 6*time.Second
	})
}

// TestNACKIsAnsweredFromCache: a subscriber asking for a packet again
// gets it again (from the track's packet cache).
func TestNACKIsAnsweredFromCache(t *testing.T) {
	srv := start(t)
	pubC := dial(t, srv)
	if _, err := pubC.Join(ctxT(t, 5*time.Second), "nack-cache-room", "Publisher"); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 10*time.Second)
	// Without replay protection the client sees a packet it already has
	// arrive again; with it (browsers) only a missing packet would pass.
	subC, err := client.Connect(ctx, srv.URL(), client.Options{KeepMessages: true, AcceptDuplicates: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { subC.Drop() })
	if _, err := subC.Join(ctx, "nack-cache-room", "Subscriber"); err != nil {
		t.Fatal(err)
	}
	video, err := pubC.PublishVideo(ctx, client.VideoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "published", func() bool { return video.ServerID() != "" })
	flowing(t, subC, video.ServerID(), 5*time.Second)
	r := subC.Received()[video.ServerID()]
	before := srv.SFU.Metrics().Snapshot()
	late := r.Late.Load()
	for i := 0; i < 5; i++ {
		if err := subC.SendNACK(video.ServerID(), r.LastSeq()-20); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitUntil(t, 3*time.Second, "retransmission", func() bool { return r.Late.Load() > late })
	after := srv.SFU.Metrics().Snapshot()
	if after.NACKs <= before.NACKs || after.Retransmits <= before.Retransmits {
		t.Fatalf("NACKs or retransmissions not counted: %+v → %+v", before, after)
	}
}

// TestUnwatchedLayersArePaused: when the only subscriber asks for the low
// layer, the publisher is told to send that layer alone (after the 3 s
// a layer must go unwatched) and stops the others; when the subscriber
// asks for the high layer, the publisher is told at once and the
// subscriber gets the high layer within a second or two.
func TestUnwatchedLayersArePaused(t *testing.T) {
	srv := start(t)
	pubC, subC, _, video := pair(t, srv)
	id := video.ServerID()
	if err := subC.Subscribe(id, "low", false); err != nil {
		t.Fatal(err)
	}
	if _, err := pubC.WaitFor(ctxT(t, 6*time.Second), func(m client.Message) bool {
		return m.Type == "layers" && m.TrackID == id && len(m.RIDs) == 1 && m.RIDs[0] == "q"
	}); err != nil {
		t.Fatalf("the publisher was not told to send the low layer alone: %v", err)
	}
	if !video.LayerSent(0) || video.LayerSent(1) || video.LayerSent(2) {
		t.Fatalf("layers sent: %v %v %v, want the low one alone", video.LayerSent(0), video.LayerSent(1), video.LayerSent(2))
	}
	if r := rate(subC, id, time.Second); r < 90e3 || r > 240e3 {
		t.Fatalf("the subscriber receives %.0f b/s, want the low layer's 150 kb/s", r)
	}
	asked := time.Now()
	if err := subC.Subscribe(id, "high", false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Second, "the high layer sent again", func() bool { return video.LayerSent(2) })
	resumed := time.Since(asked)
	waitUntil(t, 4*time.Second, "the high layer received", func() bool { return rate(subC, id, 250*time.Millisecond) > 900e3 })
	t.Logf("high layer sent again %v after the subscriber asked, received within %v", resumed, time.Since(asked))
	if video.LayerSent(1) {
		t.Error("the medium layer, which nobody asked for, is sent again")
	}
}
