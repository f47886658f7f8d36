package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"time"
)

// HTTPError is an error answer of the REST API.
type HTTPError struct {
	Status int
	Code   int    `json:"code"`
	Name   string `json:"name"`
	Msg    string `json:"error"`
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d %s (%d): %s", e.Status, e.Name, e.Code, e.Msg)
}

// HTTP calls a server's REST API as one browser would: with its own
// cookies (CSRF, guest identity) and the CSRF token in a header.
type HTTP struct {
	base string
	http *http.Client
	csrf string
	// Header is added to every request (e.g. a meeting key).
	Header http.Header
}

// NewHTTP returns a fresh browser-like API client for base (http://host:port).
func NewHTTP(base string) *HTTP {
	jar, _ := cookiejar.New(nil)
	return &HTTP{base: strings.TrimRight(base, "/"), http: &http.Client{Jar: jar, Timeout: 30 * time.Second}, Header: http.Header{}}
}

// Client is the underlying HTTP client, with this browser's cookies
// (e.g. to sign in at a provider).
func (c *HTTP) Client() *http.Client { return c.http }

// API calls the REST API; a JSON body is sent when body is not nil, and
// the answer decoded into out (when not nil). Error answers are
// *HTTPError.
func (c *HTTP) API(ctx context.Context, method, path string, body, out any) error {
	if c.csrf == "" && method != "GET" {
		var sess struct {
			CSRF string `json:"csrf"`
		}
		if err := c.do(ctx, "GET", "/api/session", nil, &sess); err != nil {
			return err
		}
		c.csrf = sess.CSRF
	}
	return c.do(ctx, method, path, body, out)
}

func (c *HTTP) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-Parley-CSRF", c.csrf)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		e := &HTTPError{Status: res.StatusCode}
		json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(e)
		return e
	}
	if out != nil {
		return json.NewDecoder(res.Body).Decode(out)
	}
	return nil
}
