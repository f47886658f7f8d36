package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/devset"
)

// TestTranscriptionConsent: nothing is transcribed while transcription is
// off; a participant who opted out is not transcribed and the transcript
// says so; a server without a speech engine refuses clearly.
func TestTranscriptionConsent(t *testing.T) {
	m, err := devset.Get("dev-s-en-01")
	if err != nil {
		t.Fatal(err)
	}
	opus := encodeStems(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startLiveServer(t, liveConfig(t))

	obs, err := client.Connect(ctx, srv.URL(), client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Drop()
	joined, err := obs.Join(ctx, "consent-room", "Observer")
	if err != nil {
		t.Fatal(err)
	}
	meetingID, meetingKey := joined.MeetingID, joined.MeetingKey
	speaker := func(name string) *client.Client {
		c, err := client.Connect(ctx, srv.URL(), client.Options{SendOnly: true, KeepMessages: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Drop() })
		if _, err := c.Join(ctx, "consent-room", name); err != nil {
			t.Fatal(err)
		}
		return c
	}
	play := func(c *client.Client, stem string, seconds int) *client.LocalTrack {
		pkts, err := client.LoadOggOpus(opus[stem])
		if err != nil {
			t.Fatal(err)
		}
		tr, err := c.PublishAudio(ctx, client.AudioOptions{Packets: pkts[:seconds*50]})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	captions := func() (n int, who map[string]bool) {
		who = map[string]bool{}
		for _, m := range obs.Messages() {
			if m.Type == "caption" {
				var c captionMsg
				json.Unmarshal(m.Raw, &c)
				if c.Text != "" {
					n++
					who[c.SpeakerName] = true
				}
			}
		}
		return n, who
	}

	// Transcription off: ruth speaks, nothing is recognised.
	ruth := speaker("ruth")
	tr := play(ruth, "ruth", 8)
	for !tr.Finished() {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if n, _ := captions(); n != 0 {
		t.Fatalf("%d captions while transcription was off", n)
	}
	if resp, err := http.Get(srv.URL() + "/api/meetings/" + meetingID + "/transcript?key=" + meetingKey); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a transcript exists though transcription was never on: %v %v", resp.StatusCode, err)
	}

	// On, with ben opted out: only ruth is transcribed.
	ben := speaker("ben")
	ben.Send(map[string]any{"type": "transcription_opt_out", "opt_out": true})
	if _, err := obs.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "participant_updated" && m.Participant != nil && m.Participant.Name == "ben" && strings.Contains(string(m.Raw), `"transcription_opt_out":true`)
	}); err != nil {
		t.Fatalf("opt-out not announced: %v", err)
	}
	// Over REST, as the observer (its meeting key says who asks).
	obs.Header.Set("Authorization", "Bearer "+meetingKey)
	if err := obs.API(ctx, "POST", "/api/rooms/consent-room/transcription", map[string]bool{"enabled": true}, nil); err != nil {
		t.Fatalf("REST transcription on: %v", err)
	}
	if _, err := ruth.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "transcription" && strings.Contains(string(m.Raw), `"enabled":true`)
	}); err != nil {
		t.Fatalf("participants not told transcription is on: %v", err)
	}
	trBen := play(ben, "ben", 16)
	ruth.Unpublish(ctx, tr)
	trRuth := play(ruth, "ruth", 8)
	for !trBen.Finished() || !trRuth.Finished() {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	n, who := captions()
	if n == 0 || !who["ruth"] {
		t.Fatalf("no captions of ruth (%d captions: %v)", n, who)
	}
	if who["ben"] {
		t.Fatal("ben opted out but was captioned")
	}
	var doc struct {
		Segments []struct {
			Speaker string `json:"speaker"`
		} `json:"segments"`
		Events []struct {
			Kind    string `json:"kind"`
			Speaker string `json:"speaker"`
		} `json:"events"`
	}
	json.Unmarshal(fetchTranscript(t, srv.URL(), meetingID, meetingKey, "json"), &doc)
	optOut := false
	for _, e := range doc.Events {
		if e.Kind == "opt_out" && e.Speaker == "ben" {
			optOut = true
		}
	}
	if !optOut {
		t.Errorf("transcript does not say ben opted out: %+v", doc.Events)
	}
	for _, s := range doc.Segments {
		if s.Speaker == "ben" {
			t.Fatal("ben's speech is in the transcript")
		}
	}
	md := string(fetchTranscript(t, srv.URL(), meetingID, meetingKey, "md"))
	if !strings.Contains(md, "ben") {
		t.Errorf("the Markdown transcript does not mention the opt-out:\n%s", md)
	}
}

// TestTranscriptionUnavailableWithoutEngine: a server started with no
// speech engine says so on joining and refuses transcription with 4019
// over the socket and 501 over REST.
func TestTranscriptionUnavailableWithoutEngine(t *testing.T) {
	cfg := liveConfig(t)
	cfg.Speech.Engine = "none"
	srv := startLiveServer(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, srv.URL(), client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Drop()
	m, err := c.Join(ctx, "quiet-room", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Raw), `"transcription_available":false`) {
		t.Errorf("joined does not say transcription is unavailable: %s", m.Raw)
	}
	c.Send(map[string]any{"type": "transcription", "enabled": true})
	if _, err := c.WaitFor(ctx, func(m client.Message) bool { return m.Type == "error" && m.Code == 4019 }); err != nil {
		t.Fatalf("no 4019 error: %v", err)
	}
	c.Header.Set("Authorization", "Bearer "+m.MeetingKey)
	var he *client.HTTPError
	if err := c.API(ctx, "POST", "/api/rooms/quiet-room/transcription", map[string]bool{"enabled": true}, nil); !errors.As(err, &he) || he.Status != http.StatusNotImplemented {
		t.Fatalf("REST: %v", err)
	}
}
