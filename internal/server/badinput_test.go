package server

import (
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/client"
)

// expectError waits for the next error reply on c (the (*seen+1)-th one)
// and checks its code.
func expectError(t *testing.T, c *client.Client, seen *int, code int, what string) {
	t.Helper()
	n := 0
	m, err := c.WaitFor(ctxT(t, 3*time.Second), func(m client.Message) bool {
		if m.Type != "error" {
			return false
		}
		n++
		return n == *seen+1
	})
	if err != nil {
		t.Fatalf("%s: no error reply: %v", what, err)
	}
	*seen++
	if m.Code != code {
		t.Fatalf("%s: error code %d (%s: %s), want %d", what, m.Code, m.Name, m.Message, code)
	}
	if m.Name == "" || m.Message == "" {
		t.Fatalf("%s: error without name or message: %s", what, m.Raw)
	}
}

const noCodecOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:0 PCMU/8000\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\na=setup:actpass\r\n"

// TestBadInputGetsErrorsAndHurtsNoOne sends every kind of bad message on
// one socket while another participant receives media: each gets an error
// with its code, the socket stays usable, the other participant keeps
// receiving.
func TestBadInputGetsErrorsAndHurtsNoOne(t *testing.T) {
	srv := start(t)
	_, subC, audio, _ := pair(t, srv)

	bad := dial(t, srv)
	seen := 0
	send := func(s string) {
		t.Helper()
		if err := bad.SendRaw([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"type":"offer","sdp":"v=0"}`)
	expectError(t, bad, &seen, 4004, "offer before join")
	send(`{not json`)
	expectError(t, bad, &seen, 4000, "malformed JSON")
	send(`[1,2,3]`)
	expectError(t, bad, &seen, 4000, "JSON array")
	send(`{"type":"teleport"}`)
	expectError(t, bad, &seen, 4001, "unknown type")
	send(`{"type":"chat","text":"` + strings.Repeat("x", 70<<10) + `"}`)
	expectError(t, bad, &seen, 4002, "message over 64 KiB")
	send(`{"type":"join","room":"media-room","name":"Mallory"}`)
	expectError(t, bad, &seen, 4043, "join without a token")
	send(`{"type":"join","token":"v1.eyJyb29tIjoibWVkaWEtcm9vbSJ9.AAAA"}`)
	expectError(t, bad, &seen, 4044, "forged token")

	if _, err := bad.Join(ctxT(t, 5*time.Second), "media-room", "Mallory"); err != nil {
		t.Fatal(err)
	}
	send(`{"type":"join","token":"v1.x.y"}`)
	expectError(t, bad, &seen, 4005, "second join")
	send(`{"type":"candidate","target":"publisher","candidate":{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 9999 typ host","sdpMid":"0"}}`)
	expectError(t, bad, &seen, 4010, "candidate before offer")
	send(`{"type":"offer","sdp":"this is not SDP"}`)
	expectError(t, bad, &seen, 4008, "garbage SDP")
	send(`{"type":"offer","sdp":"` + strings.ReplaceAll(noCodecOffer, "\r\n", `\r\n`) + `"}`)
	expectError(t, bad, &seen, 4009, "offer without a supported codec")
	send(`{"type":"mute","track_id":"TR_nope","muted":true}`)
	expectError(t, bad, &seen, 4012, "mute of an unknown track")
	send(`{"type":"mute","track_id":"` + audio.ServerID() + `","muted":true}`)
	expectError(t, bad, &seen, 4012, "mute of someone else's track")
	send(`{"type":"chat","text":"   "}`)
	expectError(t, bad, &seen, 4017, "empty chat")
	send(`{"type":"subscription","track_id":"x","layer":"ultra"}`)
	expectError(t, bad, &seen, 4003, "invalid layer")

	// The socket still works, and so does everyone else.
	send(`{"type":"ping","ts":42}`)
	if _, err := bad.WaitFor(ctxT(t, 3*time.Second), func(m client.Message) bool { return m.Type == "pong" && m.TS == 42 }); err != nil {
		t.Fatalf("no pong after bad input: %v", err)
	}
	flowing(t, subC, audio.ServerID(), 3*time.Second)
	if resp, err := httpGet(srv.URL() + "/healthz"); err != nil || resp != 200 {
		t.Fatalf("healthz after bad input: %d %v", resp, err)
	}
}
