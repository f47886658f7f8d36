// Package llmtest is a fake OpenAI-compatible chat-completions server
// for tests: it speaks the protocol (POST /v1/chat/completions), answers
// with scripted replies — good, malformed, 429, 5xx, slow — and keeps
// every request it got, so a test can check what was sent, and that
// nothing was.
package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Reply is one scripted answer.
type Reply struct {
	Status     int    // 200 when 0
	Content    string // the assistant message (for 200)
	Raw        string // a whole body instead
	RetryAfter string
	Delay      time.Duration
}

// Request is one request the server got.
type Request struct {
	Auth string
	Body Chat
}

// Chat is a chat-completions request, as far as tests look.
type Chat struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	ResponseFormat struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

// Server is the fake.
type Server struct {
	URL     string
	mu      sync.Mutex
	replies []Reply
	got     []Request
}

// Start serves on loopback until the test ends. Past the scripted
// replies, it answers 500.
func Start(t testing.TB, replies ...Reply) *Server {
	f := &Server{replies: replies}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = srv.URL
	t.Cleanup(srv.Close)
	return f
}

// Script appends replies.
func (f *Server) Script(replies ...Reply) {
	f.mu.Lock()
	f.replies = append(f.replies, replies...)
	f.mu.Unlock()
}

// Requests returns what the server got so far.
func (f *Server) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.got...)
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" || r.Method != "POST" {
		http.NotFound(w, r)
		return
	}
	var req Chat
	json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	f.got = append(f.got, Request{Auth: r.Header.Get("Authorization"), Body: req})
	var rp Reply
	if len(f.replies) > 0 {
		rp, f.replies = f.replies[0], f.replies[1:]
	} else {
		rp = Reply{Status: 500, Raw: `{"error":"no more answers scripted"}`}
	}
	f.mu.Unlock()
	if rp.Delay > 0 {
		select {
		case <-time.After(rp.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if rp.RetryAfter != "" {
		w.Header().Set("Retry-After", rp.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	if rp.Status == 0 {
		rp.Status = 200
	}
	w.WriteHeader(rp.Status)
	if rp.Raw != "" {
		fmt.Fprint(w, rp.Raw)
		return
	}
	b, _ := json.Marshal(map[string]any{"id": "chatcmpl-1", "object": "chat.completion", "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": rp.Content}}}})
	w.Write(b)
}
