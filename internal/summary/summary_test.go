package summary

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/llmtest"
	"github.com/parleyhq/parley/internal/transcript"
)

func client(f *llmtest.Server) *Client {
	return &Client{URL: f.URL, Model: "llama-test", Key: "sekret", Backoff: func(int) time.Duration { return 10 * time.Millisecond },
		HTTP: &http.Client{Timeout: 300 * time.Millisecond}}
}

func meeting(lines ...string) *transcript.Transcript {
	t := &transcript.Transcript{Meeting: transcript.Meeting{ID: "MT_x"}}
	for i, l := range lines {
		spk, text, _ := strings.Cut(l, ": ")
		t.Segments = append(t.Segments, transcript.Segment{ID: int64(i + 1), SpeakerID: spk, Speaker: spk, Start: float64(2 * i), End: float64(2*i + 2), Text: text})
	}
	return t
}

var english = meeting("Ada: Good morning, the budget is the first item.", "Bob: We approve the budget for this year.",
	"Ada: Bob will send the minutes on Friday.", "Bob: Yes, I will do that.")

const good = `{"summary": "The budget was approved.", "decisions": [{"text": "Approve the budget", "segments": [2, 999, "1"]}],
	"actions": [{"text": "Send the minutes", "who": "Bob", "when": "Friday", "segments": [3, 4, 3, -1, "x"]}, {"text": "  ", "segments": [1]}]}`

// TestCitationsChecked: citations of real segments are kept (in order,
// once), invented ones dropped and counted; the request is a chat
// completion for the configured model, with its key, the prompt's rules
// and every segment numbered.
func TestCitationsChecked(t *testing.T) {
	f := llmtest.Start(t, llmtest.Reply{Content: good})
	sum, err := client(f).Summarize(context.Background(), english)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Text != "The budget was approved." || sum.Language != "en" || sum.Model != "llama-test" || sum.Dropped != 3 {
		t.Errorf("summary %+v", sum)
	}
	if len(sum.Decisions) != 1 || fmt.Sprint(sum.Decisions[0].Segments) != "[2 1]" {
		t.Errorf("decisions %+v", sum.Decisions)
	}
	if len(sum.Actions) != 1 || sum.Actions[0].Who != "Bob" || sum.Actions[0].When != "Friday" || fmt.Sprint(sum.Actions[0].Segments) != "[3 4]" {
		t.Errorf("actions %+v", sum.Actions)
	}
	got := f.Requests()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	r := got[0]
	if r.Auth != "Bearer sekret" || r.Body.Model != "llama-test" || r.Body.ResponseFormat.Type != "json_object" || len(r.Body.Messages) != 2 {
		t.Errorf("request %+v (auth %q)", r.Body, r.Auth)
	}
	if sys := r.Body.Messages[0].Content; !strings.Contains(sys, "Write in English") || !strings.Contains(sys, `"segments"`) || strings.Contains(sys, "###") {
		t.Errorf("system prompt:\n%s", sys)
	}
	if user := r.Body.Messages[1].Content; !strings.Contains(user, "[2] Bob (0:02): We approve the budget for this year.") {
		t.Errorf("user message:\n%s", user)
	}
}

// TestFrenchMeeting: a French meeting is summarised in French.
func TestFrenchMeeting(t *testing.T) {
	f := llmtest.Start(t, llmtest.Reply{Content: `{"summary": "Le budget est adopté.", "decisions": [], "actions": []}`})
	fr := meeting("Claire: Bonjour à tous, nous passons à l'ordre du jour.", "Marc: Le budget est adopté pour les travaux du port.")
	sum, err := client(f).Summarize(context.Background(), fr)
	if err != nil || sum.Language != "fr" || sum.Text != "Le budget est adopté." {
		t.Fatalf("%+v %v", sum, err)
	}
	if sys := f.Requests()[0].Body.Messages[0].Content; !strings.Contains(sys, "Write in French (français)") {
		t.Errorf("system prompt:\n%s", sys)
	}
	if Language(english) != "en" {
		t.Error("English taken for French")
	}
}

// TestMalformedAnswer: an answer that is not the JSON asked for is asked
// again once; twice is an error; a fenced JSON answer is read.
func TestMalformedAnswer(t *testing.T) {
	f := llmtest.Start(t, llmtest.Reply{Content: "Sure! Here is the summary: the budget passed."}, llmtest.Reply{Content: "```json\n" + good + "\n```"})
	if sum, err := client(f).Summarize(context.Background(), english); err != nil || sum.Text != "The budget was approved." || len(f.Requests()) != 2 {
		t.Fatalf("%+v %v after %d requests", sum, err, len(f.Requests()))
	}
	f = llmtest.Start(t, llmtest.Reply{Content: `{"summary": `}, llmtest.Reply{Content: `{"decisions": []}`}, llmtest.Reply{Content: good})
	if _, err := client(f).Summarize(context.Background(), english); !errors.Is(err, ErrAnswer) || len(f.Requests()) != 2 {
		t.Fatalf("%v after %d requests", err, len(f.Requests()))
	}
}

// TestRetries: 429 (with Retry-After), 503, a timeout and a body that is
// not a chat completion are retried with backoff; a refusal (401) is not;
// too many failures are an error.
func TestRetries(t *testing.T) {
	f := llmtest.Start(t, llmtest.Reply{Status: 429, Raw: `{"error":"slow down"}`, RetryAfter: "0"}, llmtest.Reply{Status: 503, Raw: "busy"},
		llmtest.Reply{Delay: time.Second, Content: good}, llmtest.Reply{Content: good})
	c := client(f)
	c.Attempts = 5
	start := time.Now()
	if sum, err := c.Summarize(context.Background(), english); err != nil || sum.Text == "" {
		t.Fatalf("%v after %d requests", err, len(f.Requests()))
	}
	if n := len(f.Requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("took %v", d)
	}

	f = llmtest.Start(t, llmtest.Reply{Status: 401, Raw: `{"error":"bad key"}`}, llmtest.Reply{Content: good})
	_, err := client(f).Summarize(context.Background(), english)
	var p Permanent
	if !errors.As(err, &p) || len(f.Requests()) != 1 {
		t.Errorf("401: %v after %d requests", err, len(f.Requests()))
	}

	f = llmtest.Start(t, llmtest.Reply{Status: 500}, llmtest.Reply{Status: 502}, llmtest.Reply{Raw: `<html>proxy error</html>`}, llmtest.Reply{Status: 429})
	if _, err := client(f).Summarize(context.Background(), english); err == nil || errors.As(err, &p) || len(f.Requests()) != 4 {
		t.Errorf("four failures: %v after %d requests", err, len(f.Requests()))
	}
}

// TestLongMeetingInParts: a meeting longer than one request is
// summarised in parts, then the parts merged; the merged answer's
// citations are checked against the whole meeting.
func TestLongMeetingInParts(t *testing.T) {
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf("Ada: item number %d of a long agenda is discussed at length here.", i))
	}
	long := meeting(lines...)
	part := `{"summary": "Part.", "decisions": [{"text": "d", "segments": [1]}], "actions": []}`
	merged := `{"summary": "The whole meeting.", "decisions": [{"text": "d", "segments": [1, 30, 31]}], "actions": []}`
	f := llmtest.Start(t, llmtest.Reply{Content: part}, llmtest.Reply{Content: part}, llmtest.Reply{Content: part}, llmtest.Reply{Content: merged})
	c := client(f)
	c.ChunkChars = 800
	sum, err := c.Summarize(context.Background(), long)
	if err != nil {
		t.Fatal(err)
	}
	got := f.Requests()
	if len(got) != 4 || sum.Text != "The whole meeting." || fmt.Sprint(sum.Decisions[0].Segments) != "[1 30]" || sum.Dropped != 1 {
		t.Fatalf("%d requests, %+v", len(got), sum)
	}
	if u := got[0].Body.Messages[1].Content; !strings.HasPrefix(u, "This is part 1 of 3 of the meeting.") || len(u) > 900 {
		t.Errorf("first part (%d bytes):\n%s", len(u), u)
	}
	if u := got[3].Body.Messages[1].Content; !strings.Contains(u, "summaries of the 3 parts") || !strings.Contains(u, `"Part."`) {
		t.Errorf("merge request:\n%s", u)
	}
}

// TestNothingToSummarise: a meeting without segments sends nothing.
func TestNothingToSummarise(t *testing.T) {
	f := llmtest.Start(t)
	if sum, err := client(f).Summarize(context.Background(), meeting()); sum != nil || err != nil || len(f.Requests()) != 0 {
		t.Fatalf("%+v %v, %d requests", sum, err, len(f.Requests()))
	}
}

// FuzzAnswer: whatever a model answers, reading it and checking its
// citations never panics, and what is kept cites only real segments.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{good, "```json\n{}\n```", `{"summary":"x","decisions":[{"text":"y","segments":[1e308,-0,"[2]",null,{}]}]}`, "", "null", `[]`} {
		f.Add(s)
	}
	ids := map[int64]bool{1: true, 2: true, 3: true}
	f.Fuzz(func(t *testing.T, content string) {
		r, err := decodeAnswer(content)
		if err != nil {
			return
		}
		items, _ := checked(append(r.Decisions, r.Actions...), ids, 0)
		for _, it := range items {
			for _, id := range it.Segments {
				if !ids[id] {
					t.Fatalf("kept citation %d", id)
				}
			}
		}
	})
}
