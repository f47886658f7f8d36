package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/transcript"
)

// conn is a participant's signalling connection that ignores events.
type conn struct{}

func (conn) Send(room.Event)                     {}
func (conn) SendOffer(string, map[string]string) {}
func (conn) Close(string)                        {}

// transcripts answers every read with err.
type transcripts struct{ err error }

func (s transcripts) Transcript(context.Context, string) (*transcript.Transcript, error) {
	return nil, s.err
}

func (s transcripts) Revisions(context.Context, string) ([]store.Revision, error) { return nil, s.err }

func (s transcripts) RevisionTranscript(context.Context, string, int) (*transcript.Transcript, error) {
	return nil, s.err
}

const liveRoom = "abc-defg-hij"

// newAPI serves the API for a manager without a speech engine, with one
// participant in liveRoom.
func newAPI(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	s, err := sfu.New(sfu.Options{Interfaces: []string{"lo"}, TCPPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	m := room.NewManager(room.Options{SFU: s})
	t.Cleanup(func() {
		m.Shutdown()
		s.Close()
	})
	if _, err := m.Join(liveRoom, "Ada", conn{}, room.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	o.Rooms, o.Signal, o.Auth, o.Store, o.Keys = m, http.NotFoundHandler(), auth.NewOpen(""), st, access.NewKeys(make([]byte, 32))
	srv := httptest.NewServer(New(o))
	t.Cleanup(srv.Close)
	return srv
}

// TestErrorStatuses checks that each REST error answers with the status
// and code of the error registry the signalling socket uses.
func TestErrorStatuses(t *testing.T) {
	draining := newAPI(t, Options{Ready: func() bool { return false }})
	noStore := newAPI(t, Options{})
	missing := newAPI(t, Options{Transcripts: transcripts{store.ErrNotFound}})
	broken := newAPI(t, Options{Transcripts: transcripts{errors.New("database is locked")}})
	for _, c := range []struct {
		srv          *httptest.Server
		method, path string
		body         string
		status       int
		code         signal.Code
	}{
		{draining, "POST", "/api/rooms", "", http.StatusServiceUnavailable, signal.CodeShuttingDown},
		{noStore, "GET", "/api/rooms/NOPE", "", http.StatusNotFound, signal.CodeInvalidRoom},
		{noStore, "GET", "/api/nothing", "", http.StatusNotFound, signal.CodeNotFound},
		{noStore, "POST", "/api/rooms/nobody-here/transcription", `{"enabled":true}`, http.StatusNotFound, signal.CodeNotFound},
		{noStore, "POST", "/api/rooms/" + liveRoom + "/transcription", `{"on":true}`, http.StatusBadRequest, signal.CodeInvalidField},
		// Without a participant's credential the live room answers as
		// if there were no meeting.
		{noStore, "POST", "/api/rooms/" + liveRoom + "/transcription", `{"enabled":true}`, http.StatusNotFound, signal.CodeNotFound},
		{noStore, "POST", "/api/rooms/" + liveRoom + "/join", `{"name":""}`, http.StatusBadRequest, signal.CodeInvalidName},
		{noStore, "POST", "/api/rooms/ab-cd/join", `{"name":"Eve"}`, http.StatusNotFound, signal.CodeNotFound},
		{noStore, "POST", "/api/rooms", `{"id":"short-id"}`, http.StatusNotFound, signal.CodeInvalidRoom},
		{noStore, "POST", "/api/rooms", `{"access":"everybody"}`, http.StatusBadRequest, signal.CodeInvalidField},
		{noStore, "GET", "/api/rooms/" + liveRoom + "/audit", "", http.StatusNotFound, signal.CodeNotFound},
		{noStore, "GET", "/api/rooms", "", http.StatusUnauthorized, signal.CodeUnauthorized},
		// An outsider gets the same 404 for a meeting that exists, one
		// that does not, and a malformed id.
		{missing, "GET", "/api/meetings/not-a-meeting/transcript", "", http.StatusNotFound, signal.CodeNotFound},
		{missing, "GET", "/api/meetings/MT_k2p4r6t8v2x4z6/transcript", "", http.StatusNotFound, signal.CodeNotFound},
		{broken, "GET", "/api/meetings/MT_k2p4r6t8v2x4z6/transcript?key=guess", "", http.StatusNotFound, signal.CodeNotFound},
	} {
		req, err := http.NewRequest(c.method, c.srv.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if c.method == "POST" {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(auth.CSRFHeader, csrfToken)
			req.AddCookie(&http.Cookie{Name: auth.CSRFCookie, Value: csrfToken})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error string
			Code  signal.Code
			Name  string
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != c.status || body.Code != c.code || body.Name != c.code.String() || body.Error == "" {
			t.Errorf("%s %s: %d %+v (%v), want %d with code %d %s", c.method, c.path, resp.StatusCode, body, err, c.status, c.code, c.code)
		}
	}
}

// csrfToken is a well-formed CSRF token the tests send as cookie and header.
const csrfToken = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// TestRoomInfoHidesTheMeeting checks that GET /api/rooms/{id} says
// whether the meeting is transcribed (consent before joining) but never
// hands out its meeting id.
func TestRoomInfoHidesTheMeeting(t *testing.T) {
	srv := newAPI(t, Options{})
	resp, err := http.Get(srv.URL + "/api/rooms/" + liveRoom)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got struct {
		Active        bool
		Transcription map[string]any
	}
	if err := json.Unmarshal(b, &got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
	}
	if !got.Active || len(got.Transcription) != 1 || got.Transcription["enabled"] != false || strings.Contains(string(b), "MT_") {
		t.Errorf("GET /api/rooms/%s: %s", liveRoom, b)
	}
}
