package server

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/client"
)

// refused reads parley_signal_refused_total{reason} from the server's
// registry.
func refused(t *testing.T, srv *Server, reason string) float64 {
	t.Helper()
	mfs, err := srv.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "parley_signal_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "reason") == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// closedSoon reports whether the server closes c's socket within d.
func closedSoon(c *client.Client, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, err := c.WaitFor(ctx, func(client.Message) bool { return false })
	return err != nil && ctx.Err() == nil
}

// TestSocketThatNeverJoinsIsClosed: a socket that sends nothing (or
// anything but a successful join) is told join_timeout and closed; one
// that joined in time stays.
func TestSocketThatNeverJoinsIsClosed(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.Limits.JoinTimeout = 300 * time.Millisecond })
	idle, joined := dial(t, srv), dial(t, srv)
	if _, err := joined.Join(ctxT(t, 5*time.Second), "limits-room", "Ada"); err != nil {
		t.Fatal(err)
	}
	idle.Send(map[string]any{"type": "ping"})
	seen := 0
	expectError(t, idle, &seen, 4023, "no join")
	if !closedSoon(idle, 3*time.Second) {
		t.Fatal("the idle socket is still open after join_timeout")
	}
	if closedSoon(joined, time.Second) {
		t.Fatal("a socket that joined in time was closed")
	}
	if n := refused(t, srv, "join_timeout"); n != 1 {
		t.Fatalf("join_timeout counted %v times", n)
	}
}

// TestMessageFloodIsBounded: one participant sends 5000 raise_hand
// messages as fast as it can. The others are sent at most what the rate
// lets through (not 5000 updates each), the flooder gets one error per
// run of refused messages and is cut off after 1000 in a row, media
// keeps flowing, and the server's goroutines stay bounded.
func TestMessageFloodIsBounded(t *testing.T) {
	srv := start(t)
	_, subC, audio, _ := pair(t, srv)
	flood := dial(t, srv)
	if _, err := flood.Join(ctxT(t, 5*time.Second), "media-room", "Flood"); err != nil {
		t.Fatal(err)
	}
	goroutines := runtime.NumGoroutine()
	countUpdates := func() int {
		n := 0
		for _, m := range subC.Messages() {
			if m.Type == "participant_updated" && strings.Contains(string(m.Raw), `"name":"Flood"`) {
				n++
			}
		}
		return n
	}
	before := countUpdates()
	start := time.Now()
	sent := 0
	for i := range 5000 {
		if err := flood.SendRaw(fmt.Appendf(nil, `{"type":"raise_hand","raised":%v}`, i%2 == 0)); err != nil {
			break // the server closed the socket
		}
		sent++
	}
	elapsed := time.Since(start)
	if !closedSoon(flood, 5*time.Second) {
		t.Fatalf("a socket that kept flooding was not closed (%d sent in %v; refused %v)", sent, elapsed, refused(t, srv, "rate"))
	}
	time.Sleep(500 * time.Millisecond) // updates in flight
	// Every allowed message toggles the hand: one update each.
	allowed := 200 + int(50*elapsed.Seconds()) + 5
	if got := countUpdates() - before; got > allowed || got < 100 {
		t.Fatalf("the subscriber was sent %d updates for %d messages in %v (at most %d may pass)", got, sent, elapsed, allowed)
	}
	errs := 0
	for _, m := range flood.Messages() {
		if m.Type == "error" && m.Code == 4013 {
			errs++
		}
	}
	if errs == 0 || errs > allowed {
		t.Fatalf("flooder got %d rate_limited errors", errs)
	}
	if refused(t, srv, "rate") < 1000 || refused(t, srv, "flooding") != 1 {
		t.Fatalf("refused: rate %v, flooding %v", refused(t, srv, "rate"), refused(t, srv, "flooding"))
	}
	flowing(t, subC, audio.ServerID(), 3*time.Second)
	// Bounded: what the flood started has ended (the closed socket's
	// goroutines, on a busy machine, may take a moment to).
	g := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); g > goroutines+20 && time.Now().Before(deadline); g = runtime.NumGoroutine() {
		time.Sleep(50 * time.Millisecond)
	}
	if g > goroutines+20 {
		t.Fatalf("%d goroutines after the flood, %d before", g, goroutines)
	}
	t.Logf("%d messages in %v; %d updates reached the subscriber; %d errors to the flooder", sent, elapsed, countUpdates()-before, errs)
}

// TestPerParticipantLimits: announcements, ICE candidates and media
// sections beyond what one participant may have are refused with
// limit_exceeded; the socket stays usable.
func TestPerParticipantLimits(t *testing.T) {
	srv := start(t)
	pubC, _, _, _ := pair(t, srv)
	seen := 0
	for _, m := range pubC.Messages() {
		if m.Type == "error" {
			seen++
		}
	}
	// The pair published 2 tracks: 14 more announcements pass, the 15th
	// does not, and announcing an existing one again is no new entry.
	for i := range 14 {
		if err := pubC.Send(map[string]any{"type": "publish", "client_track_id": fmt.Sprint("extra-", i), "kind": "audio"}); err != nil {
			t.Fatal(err)
		}
	}
	pubC.Send(map[string]any{"type": "publish", "client_track_id": "extra-0", "kind": "audio"})
	pubC.Send(map[string]any{"type": "publish", "client_track_id": "one-too-many", "kind": "audio"})
	expectError(t, pubC, &seen, 4022, "17th track")
	// Candidates: the publisher connection takes 64 at most.
	errsBefore := seen
	for i := range 70 {
		pubC.Send(map[string]any{"type": "candidate", "target": "publisher", "candidate": map[string]any{
			"candidate": fmt.Sprintf("candidate:%d 1 udp 2122260223 127.0.0.1 %d typ host", i, 40000+i), "sdpMid": "0", "sdpMLineIndex": 0}})
	}
	pubC.Send(map[string]any{"type": "ping"})
	if _, err := pubC.WaitFor(ctxT(t, 5*time.Second), func(m client.Message) bool { return m.Type == "pong" }); err != nil {
		t.Fatal(err)
	}
	limited := 0
	for _, m := range pubC.Messages() {
		if m.Type == "error" {
			seen++
			if m.Code == 4022 {
				limited++
			}
		}
	}
	if got := seen - errsBefore; limited < 6 || got != limited {
		t.Fatalf("70 candidates: %d limit errors, %d errors in all (want at least 6, all limits)", limited, got)
	}
	seen = 0
	for _, m := range pubC.Messages() {
		if m.Type == "error" {
			seen++
		}
	}
	// An offer of 33 media sections.
	var sdp strings.Builder
	sdp.WriteString("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n")
	for i := range 33 {
		fmt.Fprintf(&sdp, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:%d\r\na=rtpmap:111 opus/48000/2\r\n", i)
	}
	pubC.Send(map[string]any{"type": "offer", "sdp": sdp.String()})
	expectError(t, pubC, &seen, 4022, "33 media sections")
	// Each refusal is counted under its limit's name.
	if tr, ca, ms := refused(t, srv, "tracks"), refused(t, srv, "candidates"), refused(t, srv, "media_sections"); tr != 1 || ca < 6 || ms != 1 {
		t.Fatalf("refused: tracks %v, candidates %v, media_sections %v", tr, ca, ms)
	}
}

// TestPerParticipantLimitsAreConfigurable: --max-tracks and
// --max-media-sections set where the refusals start.
func TestPerParticipantLimitsAreConfigurable(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.Limits.MaxTracks, c.Limits.MaxMediaSections = 3, 4 })
	pubC, _, _, _ := pair(t, srv) // 2 tracks published
	seen := 0
	for _, m := range pubC.Messages() {
		if m.Type == "error" {
			seen++
		}
	}
	pubC.Send(map[string]any{"type": "publish", "client_track_id": "third", "kind": "audio"})
	pubC.Send(map[string]any{"type": "publish", "client_track_id": "fourth", "kind": "audio"})
	expectError(t, pubC, &seen, 4022, "4th track with --max-tracks 3")
	var sdp strings.Builder
	sdp.WriteString("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n")
	for i := range 5 {
		fmt.Fprintf(&sdp, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:%d\r\na=rtpmap:111 opus/48000/2\r\n", i)
	}
	pubC.Send(map[string]any{"type": "offer", "sdp": sdp.String()})
	expectError(t, pubC, &seen, 4022, "5 media sections with --max-media-sections 4")
	if tr, ms := refused(t, srv, "tracks"), refused(t, srv, "media_sections"); tr != 1 || ms != 1 {
		t.Fatalf("refused: tracks %v, media_sections %v", tr, ms)
	}
}
