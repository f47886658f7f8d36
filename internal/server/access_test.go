package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/transcript"
)

// joinAs connects a client and joins room (the first to join a new room
// owns it).
func joinAs(t *testing.T, srv *Server, room, name string) (*client.Client, client.Message) {
	t.Helper()
	c := dial(t, srv)
	m, err := c.Join(ctxT(t, 5*time.Second), room, name)
	if err != nil {
		t.Fatalf("%s joins %s: %v", name, room, err)
	}
	return c, m
}

// errorCode waits for the next error reply and returns its code.
func errorCode(t *testing.T, c *client.Client, from int) int {
	t.Helper()
	m, err := c.WaitFor(ctxT(t, 3*time.Second), func(m client.Message) bool {
		from--
		return from < 0 && m.Type == "error"
	})
	if err != nil {
		t.Fatalf("no error reply: %v", err)
	}
	return m.Code
}

func sendRaw(t *testing.T, c *client.Client, s string) int {
	t.Helper()
	n := len(c.Messages())
	if err := c.SendRaw([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestJoinTokenAttacks tries the ways into a room without a valid join
// token: each is refused with its code, and the socket gets no room.
func TestJoinTokenAttacks(t *testing.T) {
	srv := start(t)
	owner, _ := joinAs(t, srv, "token-room-one", "Ada")
	_ = owner
	keys, err := access.LoadKeys(srv.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	valid := func(room string) string {
		return keys.Sign(access.Claims{Room: room, Subject: "guest:mallory", Name: "Mallory", Role: access.RoleParticipant})
	}
	replayed := valid("token-room-one")
	first := dial(t, srv)
	first.SendRaw([]byte(`{"type":"join","token":"` + replayed + `"}`))
	if _, err := first.WaitFor(ctxT(t, 5*time.Second), func(m client.Message) bool { return m.Type == "joined" }); err != nil {
		t.Fatalf("a valid token was refused: %v", err)
	}
	other := access.NewKeys([]byte(strings.Repeat("k", 32)))
	for _, c := range []struct {
		what, msg string
		code      int
	}{
		{"no token", `{"type":"join","room":"token-room-one","name":"Mallory"}`, 4043},
		{"a token of another server", `{"type":"join","token":"` + other.Sign(access.Claims{Room: "token-room-one", Subject: "x", Role: "owner"}) + `"}`, 4044},
		{"garbage", `{"type":"join","token":"v1.AAAA.BBBB"}`, 4044},
		{"expired", `{"type":"join","token":"` + keys.SignAt(access.Claims{Room: "token-room-one", Subject: "x", Role: "participant"}, time.Now().Add(-access.TokenTTL-time.Second)) + `"}`, 4045},
		{"replayed", `{"type":"join","token":"` + replayed + `"}`, 4046},
		{"for another room", `{"type":"join","room":"token-room-one","token":"` + valid("token-room-two") + `"}`, 4047},
	} {
		c2 := dial(t, srv)
		if got := errorCode(t, c2, sendRaw(t, c2, c.msg)); got != c.code {
			t.Errorf("%s: code %d, want %d", c.what, got, c.code)
		}
		// Still not in a room: an offer is refused as before a join.
		if got := errorCode(t, c2, sendRaw(t, c2, `{"type":"chat","text":"hello"}`)); got != 4004 {
			t.Errorf("%s: after the refusal a chat got code %d, want 4004 (not joined)", c.what, got)
		}
	}
	if n := srv.Rooms.Participants("token-room-one"); n != 2 {
		t.Fatalf("room has %d participants, want the owner and the one valid token", n)
	}
}

// TestLobbyAdmitAndDeny: in a locked room newcomers knock; a knocker
// gets no media, participants, chat or captions and may do nothing but
// leave; a moderator admits one and denies another.
func TestLobbyAdmitAndDeny(t *testing.T) {
	srv := start(t)
	ctx := ctxT(t, 20*time.Second)
	owner, joined := joinAs(t, srv, "lobby-test-room", "Ada")
	if joined.Role != "owner" {
		t.Fatalf("the room's creator has role %q", joined.Role)
	}
	member, _ := joinAs(t, srv, "lobby-test-room", "Bob")
	owner.Send(map[string]any{"type": "moderate", "action": "lock", "value": true})
	if _, err := member.WaitFor(ctx, func(m client.Message) bool { return m.Type == "room_settings" && m.Locked }); err != nil {
		t.Fatalf("lock not announced: %v", err)
	}

	knocker, m := joinAs(t, srv, "lobby-test-room", "Grace")
	if m.Type != "lobby" {
		t.Fatalf("a newcomer to a locked room got %q, want lobby", m.Type)
	}
	for _, msg := range []string{`{"type":"chat","text":"let me in"}`, `{"type":"publish","client_track_id":"t1","kind":"audio"}`,
		`{"type":"offer","sdp":"v=0"}`, `{"type":"raise_hand","raised":true}`, `{"type":"moderate","action":"lock","value":false}`} {
		if got := errorCode(t, knocker, sendRaw(t, knocker, msg)); got != 4042 {
			t.Errorf("knocker sent %s: code %d, want 4042", msg, got)
		}
	}
	lc, err := owner.WaitFor(ctx, func(m client.Message) bool { return m.Type == "lobby_changed" && len(m.Waiting) == 1 })
	if err != nil {
		t.Fatalf("moderator not told of the knock: %v", err)
	}
	if lc.Waiting[0].Name != "Grace" {
		t.Fatalf("lobby: %+v", lc.Waiting)
	}
	// A participant may not admit.
	if got := errorCode(t, member, sendRaw(t, member, `{"type":"moderate","action":"admit","participant_id":"`+lc.Waiting[0].ID+`"}`)); got != 4040 {
		t.Fatalf("a participant admitted: code %d", got)
	}
	// The knocker saw nothing of the room meanwhile.
	for _, msg := range knocker.Messages() {
		switch msg.Type {
		case "participant_joined", "chat", "caption", "offer", "joined", "room_settings", "lobby_changed":
			t.Fatalf("knocker received %s: %s", msg.Type, msg.Raw)
		}
	}
	owner.Send(map[string]any{"type": "moderate", "action": "admit", "participant_id": lc.Waiting[0].ID})
	in, err := knocker.WaitFor(ctx, func(m client.Message) bool { return m.Type == "joined" })
	if err != nil {
		t.Fatalf("admitted knocker not joined: %v", err)
	}
	if len(in.Participants) != 3 || in.MeetingKey == "" {
		t.Fatalf("admitted: %d participants, key %q", len(in.Participants), in.MeetingKey)
	}

	denied, m := joinAs(t, srv, "lobby-test-room", "Eve")
	if m.Type != "lobby" {
		t.Fatalf("second knocker got %q", m.Type)
	}
	lc, err = owner.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "lobby_changed" && len(m.Waiting) == 1 && m.Waiting[0].Name == "Eve"
	})
	if err != nil {
		t.Fatal(err)
	}
	owner.Send(map[string]any{"type": "moderate", "action": "deny", "participant_id": lc.Waiting[0].ID})
	if _, err := denied.WaitFor(ctx, func(m client.Message) bool { return m.Type == "bye" && m.Reason == "denied" }); err != nil {
		t.Fatalf("denied knocker not told: %v", err)
	}

	// A knocker who closes the page leaves the lobby.
	gone, _ := joinAs(t, srv, "lobby-test-room", "Lin")
	if _, err := owner.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "lobby_changed" && len(m.Waiting) == 1 && m.Waiting[0].Name == "Lin"
	}); err != nil {
		t.Fatal(err)
	}
	gone.DropSocket()
	if _, err := owner.WaitFor(ctx, func(m client.Message) bool { return m.Type == "lobby_changed" && len(m.Waiting) == 0 }); err != nil {
		t.Fatalf("a knocker who left is still listed: %v", err)
	}
	if n := srv.Rooms.Participants("lobby-test-room"); n != 3 {
		t.Fatalf("%d participants, want 3", n)
	}
}

// TestModeration: every moderator action from a participant is refused;
// the owner's are carried out by the server.
func TestModeration(t *testing.T) {
	srv := start(t)
	ctx := ctxT(t, 30*time.Second)
	owner, _ := joinAs(t, srv, "moderated-room", "Ada")
	alice, aj := joinAs(t, srv, "moderated-room", "Alice")
	bob, bj := joinAs(t, srv, "moderated-room", "Bob")
	if aj.Role != "participant" {
		t.Fatalf("second joiner has role %q", aj.Role)
	}
	if _, err := bob.PublishAudio(ctx, client.AudioOptions{}); err != nil {
		t.Fatal(err)
	}
	// (By owner, not by id: Alice may hear of the track before Bob.)
	pub, err := alice.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "track_published" && m.Track != nil && m.Track.ParticipantID == bj.ParticipantID
	})
	if err != nil {
		t.Fatalf("Bob's microphone not published: %v", err)
	}
	micID := pub.Track.ID
	for _, a := range []string{`"action":"mute","participant_id":"` + bj.ParticipantID + `"`, `"action":"mute_all"`,
		`"action":"stop_camera","participant_id":"` + bj.ParticipantID + `"`, `"action":"stop_screen","participant_id":"` + bj.ParticipantID + `"`,
		`"action":"remove","participant_id":"` + bj.ParticipantID + `"`, `"action":"lock","value":true`, `"action":"end"`,
		`"action":"promote","participant_id":"` + aj.ParticipantID + `"`, `"action":"transcription_by","policy":"everyone"`,
		`"action":"speak_moderated","value":true`, `"action":"admit"`, `"action":"deny"`} {
		if got := errorCode(t, alice, sendRaw(t, alice, `{"type":"moderate",`+a+`}`)); got != 4040 {
			t.Errorf("participant's {%s}: code %d, want 4040", a, got)
		}
	}

	// Mute, with speaking moderated: Bob may not unmute himself.
	owner.Send(map[string]any{"type": "moderate", "action": "speak_moderated", "value": true})
	owner.Send(map[string]any{"type": "moderate", "action": "mute", "participant_id": bj.ParticipantID})
	if _, err := bob.WaitFor(ctx, func(m client.Message) bool { return m.Type == "moderated" && m.Action == "mute" && m.ByName == "Ada" }); err != nil {
		t.Fatalf("Bob not told he was muted: %v", err)
	}
	if _, err := alice.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "track_updated" && m.Track != nil && m.Track.ID == micID && m.Track.Muted
	}); err != nil {
		t.Fatalf("Bob's microphone not muted: %v", err)
	}
	if got := errorCode(t, bob, sendRaw(t, bob, `{"type":"mute","track_id":"`+micID+`","muted":false}`)); got != 4040 {
		t.Fatalf("Bob unmuted himself after a moderator's mute: code %d", got)
	}

	// The owner promotes Alice; as a moderator she removes Bob, who
	// cannot come back to this meeting.
	owner.Send(map[string]any{"type": "moderate", "action": "promote", "participant_id": aj.ParticipantID})
	if _, err := alice.WaitFor(ctx, func(m client.Message) bool { return m.Type == "moderated" && m.Action == "promote" }); err != nil {
		t.Fatal(err)
	}
	alice.Send(map[string]any{"type": "moderate", "action": "remove", "participant_id": bj.ParticipantID})
	if _, err := bob.WaitFor(ctx, func(m client.Message) bool { return m.Type == "bye" && m.Reason == "removed" }); err != nil {
		t.Fatalf("Bob not removed: %v", err)
	}
	var he *client.HTTPError
	if _, err := bob.JoinToken(ctx, "moderated-room", "Bob again"); !errors.As(err, &he) || he.Code != 4041 {
		t.Fatalf("a removed participant asked to join again: %v", err)
	}
	// Only the owner promotes.
	if got := errorCode(t, alice, sendRaw(t, alice, `{"type":"moderate","action":"demote","participant_id":"`+aj.ParticipantID+`"}`)); got != 4040 {
		t.Fatalf("a moderator demoted: code %d", got)
	}

	// End for everyone.
	owner.Send(map[string]any{"type": "moderate", "action": "end"})
	if _, err := alice.WaitFor(ctx, func(m client.Message) bool { return m.Type == "bye" && m.Reason == "ended" }); err != nil {
		t.Fatalf("meeting not ended: %v", err)
	}
	waitUntil(t, 5*time.Second, "the room to close", func() bool { return srv.Rooms.Participants("moderated-room") == 0 })

	// The audit log has the moderator actions, for the owner only.
	var log []struct{ Action, Name, Addr string }
	owner.Header.Set("X-Parley-Creator", owner.CreatorToken)
	if err := owner.API(ctx, "GET", "/api/rooms/moderated-room/audit", nil, &log); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"room_created": false, "entered": false, "mute": false, "promote": false, "remove": false, "end": false, "settings": false}
	for _, e := range log {
		if _, ok := want[e.Action]; ok {
			want[e.Action] = true
		}
		if e.Action == "remove" && (e.Name != "Alice" || e.Addr != "127.0.0.1") {
			t.Errorf("remove row: %+v", e)
		}
	}
	for a, seen := range want {
		if !seen {
			t.Errorf("audit log lacks %s: %+v", a, log)
		}
	}
	if err := alice.API(ctx, "GET", "/api/rooms/moderated-room/audit", nil, &log); !errors.As(err, &he) || he.Status != 404 {
		t.Fatalf("a non-owner read the audit log: %v", err)
	}
}

// TestMeetingDataOnlyForParticipants: the meeting's record is readable
// with a participant's meeting key and by nobody else, and an outsider
// cannot tell a meeting that exists from one that does not.
func TestMeetingDataOnlyForParticipants(t *testing.T) {
	srv := start(t)
	_, joined := joinAs(t, srv, "private-meeting", "Ada")
	ctx := context.Background()
	if err := srv.Store.CreateMeeting(ctx, transcript.Meeting{ID: joined.MeetingID, Title: "private-meeting"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Store.AppendSegment(ctx, joined.MeetingID, transcript.Segment{SpeakerID: "PA_x", Speaker: "Ada", Start: 1, End: 2, Text: "the budget is secret"}); err != nil {
		t.Fatal(err)
	}
	get := func(path, key string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL()+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	path := "/api/meetings/" + joined.MeetingID + "/transcript?format=txt"
	if code, body := get(path, joined.MeetingKey); code != 200 || !strings.Contains(body, "the budget is secret") {
		t.Fatalf("participant: %d %q", code, body)
	}
	if code, body := get(path+"&key="+joined.MeetingKey, ""); code != 200 || !strings.Contains(body, "secret") {
		t.Fatalf("participant by download link: %d %q", code, body)
	}
	_, outsider := get(path, "")
	_, wrongKey := get(path, strings.Repeat("x", 43))
	_, noMeeting := get("/api/meetings/MT_doesnotexist00/transcript?format=txt", "")
	if strings.Contains(outsider+wrongKey, "secret") || outsider != noMeeting || wrongKey != noMeeting {
		t.Fatalf("outsider %q, wrong key %q, no meeting %q: must all be the same 404", outsider, wrongKey, noMeeting)
	}
	if code, body := get("/api/rooms/private-meeting", ""); code != 200 || strings.Contains(body, joined.MeetingID) {
		t.Fatalf("room info tells the meeting id: %d %s", code, body)
	}
}

// TestStateChangesRefuseCrossSite: every state-changing endpoint refuses
// a request from another site, without the CSRF token, or with a body
// type a cross-site form could send.
func TestStateChangesRefuseCrossSite(t *testing.T) {
	srv := start(t)
	owner, joined := joinAs(t, srv, "csrf-test-room", "Ada")
	for _, ep := range []struct{ method, path, body string }{
		{"POST", "/api/rooms", `{}`},
		{"POST", "/api/rooms/csrf-test-room/join", `{"name":"Eve"}`},
		{"PATCH", "/api/rooms/csrf-test-room/settings", `{"locked":true}`},
		{"POST", "/api/rooms/csrf-test-room/transcription", `{"enabled":true}`},
		{"DELETE", "/api/meetings/" + joined.MeetingID, ``},
		{"POST", "/api/meetings/" + joined.MeetingID + "/edits", `{"kind":"undo"}`},
		{"POST", "/api/meetings/" + joined.MeetingID + "/summary", `{}`},
	} {
		for name, mut := range map[string]func(r *http.Request){
			"other origin":   func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") },
			"cross-site":     func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
			"no CSRF header": func(r *http.Request) { r.Header.Del("X-Parley-CSRF") },
			"text/plain":     func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
		} {
			req, _ := http.NewRequest(ep.method, srv.URL()+ep.path, strings.NewReader(ep.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Parley-CSRF", csrf)
			req.Header.Set("X-Parley-Creator", owner.CreatorToken)
			req.Header.Set("Authorization", "Bearer "+joined.MeetingKey)
			req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: csrf})
			mut(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s (%s): %d, want 403", ep.method, ep.path, name, resp.StatusCode)
			}
		}
	}
	// Nothing changed: the room is not locked, transcription is off.
	if rm, ok := srv.Rooms.Room("csrf-test-room"); !ok || rm.Settings().Locked || rm.Transcription().Enabled {
		t.Fatal("a refused request changed the room")
	}
}
