// Package summary asks a language model the organisation runs (any
// OpenAI-compatible /v1/chat/completions server) for a meeting's summary,
// decisions and action items, each citing the transcript segments it
// comes from. Long meetings are summarised in parts, then merged.
// Citations are checked: one that names no segment of the meeting is
// dropped and counted. The prompts are prompts.txt, embedded.
package summary

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/parleyhq/parley/internal/transcript"
)

//go:embed prompts.txt
var promptsFile string

// prompts are prompts.txt's named prompts.
var prompts = parsePrompts(promptsFile)

func parsePrompts(file string) map[string]string {
	out := map[string]string{}
	name := ""
	var b strings.Builder
	flush := func() {
		if name != "" {
			out[name] = strings.TrimSpace(b.String())
		}
		b.Reset()
	}
	for _, line := range strings.Split(file, "\n") {
		if n, ok := strings.CutPrefix(line, "### "); ok {
			flush()
			name = strings.TrimSpace(n)
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		b.WriteString(line + "\n")
	}
	flush()
	return out
}

// Client summarises meetings with one model of one server.
type Client struct {
	URL   string // base URL, e.g. http://llm.internal:8000
	Model string
	Key   string // bearer token, optional
	// HTTP is the client (its Timeout bounds one request; 3 minutes
	// when nil: a model writes slowly).
	HTTP *http.Client
	// Attempts bounds the tries of one request that fails with 429, a
	// 5xx, a timeout or a broken connection (4 when 0); Backoff is the
	// wait before try n+1 (1 s·2^(n-1) when nil), unless the server
	// says Retry-After.
	Attempts int
	Backoff  func(n int) time.Duration
	// ChunkChars bounds the transcript text sent in one request (12 000
	// characters, about 3 000 tokens, when 0).
	ChunkChars int
}

// ErrAnswer is a model answer that is not the JSON asked for, twice.
var ErrAnswer = errors.New("summary: the model did not answer with the JSON asked for")

// Permanent is an error retrying will not cure (the server refused the
// request: a wrong model name, a bad key).
type Permanent struct{ Err error }

func (p Permanent) Error() string { return p.Err.Error() }
func (p Permanent) Unwrap() error { return p.Err }

// result is the model's answer, before its citations are checked.
type result struct {
	Summary   string `json:"summary"`
	Decisions []item `json:"decisions"`
	Actions   []item `json:"actions"`
}

type item struct {
	Text     string `json:"text"`
	Who      string `json:"who,omitempty"`
	When     string `json:"when,omitempty"`
	Segments []any  `json:"segments"`
}

// Summarize writes t's summary. A meeting with no segment gets none
// (nil, nil) and nothing is sent.
func (c *Client) Summarize(ctx context.Context, t *transcript.Transcript) (*transcript.Summary, error) {
	lines, ids := transcriptLines(t)
	if len(lines) == 0 {
		return nil, nil
	}
	lang := Language(t)
	system := fill(prompts["system"], lang, 0, 0)
	chunks := chunk(lines, c.chunkChars())
	var parts []result
	for i, ch := range chunks {
		user := ch
		if len(chunks) > 1 {
			user = fill(prompts["part"], lang, i+1, len(chunks)) + "\n\n" + ch
		}
		r, err := c.ask(ctx, system, user)
		if err != nil {
			return nil, err
		}
		parts = append(parts, r)
	}
	final := parts[0]
	if len(parts) > 1 {
		b, _ := json.MarshalIndent(parts, "", " ")
		r, err := c.ask(ctx, system, fill(prompts["merge"], lang, 0, len(parts))+"\n\n"+string(b))
		if err != nil {
			return nil, err
		}
		final = r
	}
	sum := &transcript.Summary{Language: lang, Text: strings.TrimSpace(final.Summary), Model: c.Model, Created: time.Now().UTC(),
		Decisions: []transcript.Item{}, Actions: []transcript.Item{}}
	sum.Decisions, sum.Dropped = checked(final.Decisions, ids, sum.Dropped)
	sum.Actions, sum.Dropped = checked(final.Actions, ids, sum.Dropped)
	return sum, nil
}

// checked keeps the items with text, each with the citations that name
// a segment of the meeting (in order, once); dropped counts the others.
func checked(items []item, ids map[int64]bool, dropped int) ([]transcript.Item, int) {
	out := []transcript.Item{}
	for _, it := range items {
		text := strings.TrimSpace(it.Text)
		if text == "" {
			continue
		}
		ti := transcript.Item{Text: text, Who: strings.TrimSpace(it.Who), When: strings.TrimSpace(it.When), Segments: []int64{}}
		seen := map[int64]bool{}
		for _, raw := range it.Segments {
			id, ok := citation(raw)
			if !ok || !ids[id] {
				dropped++
				continue
			}
			if !seen[id] {
				seen[id] = true
				ti.Segments = append(ti.Segments, id)
			}
		}
		out = append(out, ti)
	}
	return out, dropped
}

// citation reads a segment number as models write it: 12, 12.0, "12",
// "[12]".
func citation(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && x > 0 && x < 1<<53 {
			return int64(x), true
		}
	case string:
		n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(x), "[]#"), 10, 64)
		return n, err == nil && n > 0
	}
	return 0, false
}

// transcriptLines renders the segments as the prompt describes them.
func transcriptLines(t *transcript.Transcript) ([]string, map[int64]bool) {
	ids := map[int64]bool{}
	var out []string
	for _, s := range t.Segments {
		if s.ID == 0 || strings.TrimSpace(s.Text) == "" {
			continue
		}
		ids[s.ID] = true
		sec := int(s.Start)
		out = append(out, fmt.Sprintf("[%d] %s (%d:%02d): %s", s.ID, oneLine(s.Speaker), sec/60, sec%60, oneLine(s.Text)))
	}
	return out, ids
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// chunk cuts the lines into pieces of at most max characters (a longer
// line is a piece of its own).
func chunk(lines []string, max int) []string {
	var out []string
	var b strings.Builder
	for _, l := range lines {
		if b.Len() > 0 && b.Len()+len(l)+1 > max {
			out = append(out, b.String())
			b.Reset()
		}
		b.WriteString(l + "\n")
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

var languageNames = map[string]string{"en": "English", "fr": "French (français)"}

func fill(p, lang string, part, parts int) string {
	name := languageNames[lang]
	if name == "" {
		name = lang
	}
	return strings.NewReplacer("{language}", name, "{part}", strconv.Itoa(part), "{parts}", strconv.Itoa(parts)).Replace(p)
}

// Language tells French from English by their commonest words (the two
// languages the product speaks); English when neither shows.
func Language(t *transcript.Transcript) string {
	fr := map[string]bool{"le": true, "la": true, "les": true, "des": true, "est": true, "une": true, "nous": true, "vous": true,
		"pour": true, "que": true, "qui": true, "dans": true, "pas": true, "sur": true, "avec": true, "du": true, "et": true, "je": true}
	en := map[string]bool{"the": true, "and": true, "is": true, "of": true, "to": true, "we": true, "you": true, "for": true,
		"that": true, "it": true, "with": true, "this": true, "are": true, "not": true, "in": true, "on": true, "i": true}
	nfr, nen := 0, 0
	for _, s := range t.Segments {
		for _, w := range strings.FieldsFunc(strings.ToLower(s.Text), func(r rune) bool { return !unicode.IsLetter(r) }) {
			if fr[w] {
				nfr++
			}
			if en[w] {
				nen++
			}
		}
	}
	if nfr > nen {
		return "fr"
	}
	return "en"
}

func (c *Client) chunkChars() int {
	if c.ChunkChars > 0 {
		return c.ChunkChars
	}
	return 12000
}

// ask sends one chat completion and decodes its JSON answer: transient
// failures are retried with backoff, an answer that is not the JSON
// asked for once.
func (c *Client) ask(ctx context.Context, system, user string) (result, error) {
	var r result
	for try := 0; try < 2; try++ {
		content, err := c.complete(ctx, system, user)
		if err != nil {
			return r, err
		}
		if r, err = decodeAnswer(content); err == nil {
			return r, nil
		}
	}
	return r, ErrAnswer
}

// decodeAnswer reads the JSON object of an answer, allowing the code
// fence some models put around it.
func decodeAnswer(content string) (result, error) {
	var r result
	s := strings.TrimSpace(content)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "```json"), "```")
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&r); err != nil {
		return r, err
	}
	if strings.TrimSpace(r.Summary) == "" {
		return r, errors.New("no summary in the answer")
	}
	return r, nil
}

type chatRequest struct {
	Model          string        `json:"model"`
	Messages       []chatMessage `json:"messages"`
	Temperature    float64       `json:"temperature"`
	ResponseFormat struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatResponse struct {
	Choices []struct {
		Message chatMessage `json:"message"`
	} `json:"choices"`
}

// complete posts one request, retrying 429, 5xx, timeouts and broken
// connections.
func (c *Client) complete(ctx context.Context, system, user string) (string, error) {
	req := chatRequest{Model: c.Model, Messages: []chatMessage{{Role: "system", Content: system}, {Role: "user", Content: user}}}
	req.ResponseFormat.Type = "json_object"
	body, _ := json.Marshal(req)
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 3 * time.Minute}
	}
	var last error
	for n := 1; n <= attempts; n++ {
		content, wait, err := c.post(ctx, hc, body)
		if err == nil {
			return content, nil
		}
		var p Permanent
		if errors.As(err, &p) || ctx.Err() != nil {
			return "", err
		}
		last = err
		if n == attempts {
			break
		}
		if wait <= 0 {
			wait = c.backoff(n)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return "", fmt.Errorf("summary: %d attempts: %w", attempts, last)
}

func (c *Client) backoff(n int) time.Duration {
	if c.Backoff != nil {
		return c.Backoff(n)
	}
	return time.Second << (n - 1)
}

// post makes one request; wait is the server's Retry-After, if any.
func (c *Client) post(ctx context.Context, hc *http.Client, body []byte) (content string, wait time.Duration, err error) {
	hr, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(c.URL, "/")+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return "", 0, Permanent{err}
	}
	hr.Header.Set("Content-Type", "application/json")
	if c.Key != "" {
		hr.Header.Set("Authorization", "Bearer "+c.Key)
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return "", 0, err // timeout, refused, reset: retried
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", 0, err
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = min(time.Duration(s)*time.Second, time.Minute)
		}
		return "", wait, fmt.Errorf("summary: %s: %s", resp.Status, snippet(raw))
	case resp.StatusCode != http.StatusOK:
		return "", 0, Permanent{fmt.Errorf("summary: %s: %s", resp.Status, snippet(raw))}
	}
	var cr chatResponse
	if err := json.Unmarshal(raw, &cr); err != nil || len(cr.Choices) == 0 {
		return "", 0, fmt.Errorf("summary: not a chat completion: %s", snippet(raw))
	}
	return cr.Choices[0].Message.Content, 0, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
