package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/llmtest"
	"github.com/parleyhq/parley/internal/transcript"
)

// finishedMeeting makes a meeting with Ada (owner) and Bob, a transcript
// of lines, and ends it; it returns the meeting id, Ada's and Bob's keys
// and the segments' ids.
func finishedMeeting(t *testing.T, srv *Server, roomID string, lines ...string) (id, ada, bob string, segs []int64) {
	t.Helper()
	ctx := context.Background()
	a, aj := joinAs(t, srv, roomID, "Ada")
	b, bj := joinAs(t, srv, roomID, "Bob")
	id = aj.MeetingID
	if err := srv.Store.CreateMeeting(ctx, transcript.Meeting{ID: id, Title: roomID, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		spk, text, _ := strings.Cut(l, ": ")
		n, err := srv.Store.AppendSegment(ctx, id, transcript.Segment{SpeakerID: "PA_" + spk, Speaker: spk, Start: float64(3 * i), End: float64(3*i + 2), Text: text})
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, n)
	}
	a.Close()
	b.Close()
	waitUntil(t, 10*time.Second, "the meeting to end", func() bool { _, live := srv.Rooms.Room(roomID); return !live })
	return id, aj.MeetingKey, bj.MeetingKey, segs
}

// TestSummaryJob: with a model server configured, the meeting's owner
// asks for a summary; the job sends the transcript to the model, keeps
// the citations of real segments and drops the invented one; the summary
// shows in the API and the exports. A participant may read but not ask;
// an outsider gets the 404.
func TestSummaryJob(t *testing.T) {
	llm := llmtest.Start(t)
	srv := start(t, func(c *config.Config) { c.LLMURL, c.LLMModel, c.LLMKey = llm.URL, "local-model", "k-123" })
	id, ada, bob, segs := finishedMeeting(t, srv, "summary-test-room",
		"Ada: We approve the harbour budget today.", "Bob: I will send the minutes on Friday.")
	llm.Script(llmtest.Reply{Content: fmt.Sprintf(`{"summary": "The harbour budget was approved.",
		"decisions": [{"text": "Approve the harbour budget", "segments": [%d, 424242]}],
		"actions": [{"text": "Send the minutes", "who": "Bob", "when": "Friday", "segments": [%d]}]}`, segs[0], segs[1])})

	path := "/api/meetings/" + id + "/summary"
	if code, out := apiCall(t, srv, "GET", path, ada, "{}"); code != 200 || out["configured"] != true || out["summary"] != nil || out["may_regenerate"] != true {
		t.Fatalf("before: %d %v", code, out)
	}
	if code, out := apiCall(t, srv, "POST", path, bob, "{}"); code != http.StatusForbidden {
		t.Errorf("a participant asks: %d %v", code, out)
	}
	if code, _ := apiCall(t, srv, "GET", path, "not-a-key", "{}"); code != 404 {
		t.Errorf("an outsider reads: %d", code)
	}
	if code, out := apiCall(t, srv, "POST", path, ada, "{}"); code != http.StatusAccepted {
		t.Fatalf("the owner asks: %d %v", code, out)
	}
	var got map[string]any
	waitUntil(t, 20*time.Second, "the summary", func() bool {
		_, got = apiCall(t, srv, "GET", path, bob, "{}")
		return got["summary"] != nil
	})
	sum := got["summary"].(map[string]any)
	if sum["text"] != "The harbour budget was approved." || sum["language"] != "en" || sum["model"] != "local-model" || sum["dropped_citations"] != 1.0 ||
		fmt.Sprint(sum["decisions"]) != fmt.Sprintf("[map[segments:[%d] text:Approve the harbour budget]]", segs[0]) {
		t.Errorf("summary %v", sum)
	}
	reqs := llm.Requests()
	if len(reqs) != 1 || reqs[0].Auth != "Bearer k-123" || !strings.Contains(reqs[0].Body.Messages[1].Content, "We approve the harbour budget today.") {
		t.Errorf("requests: %+v", reqs)
	}
	req, _ := http.NewRequest("GET", srv.URL()+"/api/meetings/"+id+"/transcript?format=md", nil)
	req.Header.Set("Authorization", "Bearer "+bob)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(md), "## Summary") || !strings.Contains(string(md), "- Send the minutes (Bob, Friday) [00:00:03]") {
		t.Errorf("markdown export:\n%s", md)
	}
}

// TestNoModelNothingSent: without --llm-url no summary is asked for,
// whatever happens, and a model server running beside gets nothing.
func TestNoModelNothingSent(t *testing.T) {
	llm := llmtest.Start(t)
	srv := start(t)
	id, ada, _, _ := finishedMeeting(t, srv, "no-model-test-room", "Ada: The budget is secret.")
	if code, out := apiCall(t, srv, "POST", "/api/meetings/"+id+"/summary", ada, "{}"); code != http.StatusNotImplemented || out["name"] != "summaries_unavailable" {
		t.Errorf("asked without a model: %d %v", code, out)
	}
	if code, out := apiCall(t, srv, "GET", "/api/meetings/"+id+"/summary", ada, "{}"); code != 200 || out["configured"] != false || out["summary"] != nil || out["may_regenerate"] != false {
		t.Errorf("summary state: %d %v", code, out)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(llm.Requests()); n != 0 {
		t.Errorf("%d requests reached a model server nobody configured", n)
	}
	if jobs, _ := srv.Store.PendingJobKeys(context.Background()); len(jobs) != 0 {
		t.Errorf("jobs queued: %v", jobs)
	}
}
