package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/testkit/pgtest"
	"github.com/parleyhq/parley/internal/transcript"
)

// TestSearchOverHTTP: a participant finds what was said in the meetings
// whose keys their browser kept, and nothing of a meeting they were not
// in, whatever they type; a caller without keys finds nothing. On either
// store.
func TestSearchOverHTTP(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testSearchOverHTTP(t, start(t)) })
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Database(t)
		testSearchOverHTTP(t, start(t, func(c *config.Config) { c.Postgres = dsn }))
	})
}

func testSearchOverHTTP(t *testing.T, srv *Server) {
	ctx := context.Background()
	said := map[string]string{"search-room-one": "Passons à l’ordre du jour : le budget.", "search-room-two": "The secret budget figures."}
	keys := map[string]string{}
	for roomID, text := range said {
		_, joined := joinAs(t, srv, roomID, "Ada")
		keys[roomID] = joined.MeetingKey
		if err := srv.Store.CreateMeeting(ctx, transcript.Meeting{ID: joined.MeetingID, Title: roomID}); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Store.AppendSegment(ctx, joined.MeetingID, transcript.Segment{SpeakerID: "PA_x", Speaker: "Ada", Start: 4, End: 6, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	search := func(contentType, body string) (int, []store.Hit) {
		req, _ := http.NewRequest("POST", srv.URL()+"/api/search", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Hits []store.Hit }
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Hits
	}
	q := func(text string, keys ...string) string {
		b, _ := json.Marshal(map[string]any{"q": text, "keys": keys})
		return string(b)
	}
	one := keys["search-room-one"]
	code, hits := search("application/json", q("l'ordre du JOUR", one))
	if code != 200 || len(hits) != 1 || hits[0].RoomID != "search-room-one" || hits[0].Speaker != "Ada" || hits[0].Start != 4 {
		t.Fatalf("search: %d %+v", code, hits)
	}
	if _, hits := search("application/json", q("budget", one)); len(hits) != 1 || hits[0].RoomID != "search-room-one" {
		t.Fatalf("budget with one key found %+v", hits)
	}
	if _, hits := search("application/json", q("budget", one, keys["search-room-two"])); len(hits) != 2 {
		t.Fatalf("budget with both keys found %+v", hits)
	}
	for _, text := range []string{"secret", "secret OR budget", `budget") OR ("secret`, "figures*"} {
		if code, hits := search("application/json", q(text, one, "a-key-never-given")); code != 200 || len(hits) != 0 {
			t.Errorf("%q found %d %+v in a meeting the caller was not in", text, code, hits)
		}
	}
	if code, hits := search("application/json", q("budget")); code != 200 || len(hits) != 0 {
		t.Errorf("no keys: %d %+v", code, hits)
	}
	if code, _ := search("text/plain", q("budget", one)); code != 400 {
		t.Errorf("a form's content type: %d", code)
	}
	if code, _ := search("application/json", q("*", one)); code != 400 {
		t.Errorf("nothing to search for: %d", code)
	}
	if code, _ := search("application/json", `{"q":`); code != 400 {
		t.Errorf("broken JSON: %d", code)
	}
	many := make([]string, 1001)
	for i := range many {
		many[i] = "k"
	}
	if code, _ := search("application/json", q("budget", many...)); code != 400 {
		t.Errorf("1001 keys: %d", code)
	}
	big := `{"q":"budget","keys":["` + string(bytes.Repeat([]byte("k"), 200<<10)) + `"]}`
	if code, _ := search("application/json", big); code != 400 {
		t.Errorf("a 200 KiB body: %d", code)
	}
	// Searches share one address's look-up budget (5 a second, bursts
	// of 20): a flood is refused.
	refused := 0
	for range 40 {
		if code, _ := search("application/json", q("budget", one)); code == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused == 0 {
		t.Error("40 searches at once from one address were all answered")
	}
}

// TestMyMeetings: the meetings whose keys a browser kept, newest first,
// live while they go on and final once over; an outsider's list is empty.
func TestMyMeetings(t *testing.T) {
	srv := start(t)
	ctx := context.Background()
	began := time.Now()
	ada, first := joinAs(t, srv, "my-meetings-first", "Ada")
	_, second := joinAs(t, srv, "my-meetings-second", "Ada")
	// The first is transcribed, the second not.
	if err := srv.Store.CreateMeeting(ctx, transcript.Meeting{ID: first.MeetingID, Title: "my-meetings-first", Started: began}); err != nil {
		t.Fatal(err)
	}
	srv.Store.PutSpeaker(ctx, first.MeetingID, transcript.Speaker{ID: "PA_a", Name: "Ada"})
	srv.Store.AppendSegment(ctx, first.MeetingID, transcript.Segment{SpeakerID: "PA_a", Speaker: "Ada", Start: 1, End: 62.5, Text: "a long minute"})
	list := func(keys ...string) (int, []map[string]any) {
		b, _ := json.Marshal(map[string]any{"keys": keys})
		resp, err := http.Post(srv.URL()+"/api/meetings/list", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Meetings []map[string]any }
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Meetings
	}
	code, ms := list(first.MeetingKey, second.MeetingKey)
	if code != 200 || len(ms) != 2 || ms[0]["id"] != second.MeetingID || ms[1]["id"] != first.MeetingID {
		t.Fatalf("%d %v", code, ms)
	}
	m := ms[1]
	if m["room"] != "my-meetings-first" || m["title"] != "my-meetings-first" || m["state"] != "live" || m["duration"] != 62.5 || m["role"] != "owner" ||
		m["recorded"] != false || len(m["speakers"].([]any)) != 1 {
		t.Errorf("first meeting: %v", m)
	}
	ada.Close()
	waitUntil(t, 10*time.Second, "the first meeting to end", func() bool {
		_, ms := list(first.MeetingKey)
		return len(ms) == 1 && ms[0]["state"] == "final"
	})
	if code, ms := list("not-a-key"); code != 200 || len(ms) != 0 {
		t.Errorf("an outsider's list: %d %v", code, ms)
	}
	if code, _ := list(); code != 200 {
		t.Errorf("no keys: %d", code)
	}
}
