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
	o.Rooms, o.Signal = m, http.NotFoundHandler()
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
		{noStore, "POST", "/api/rooms/" + liveRoom + "/transcription", `{"enabled":true}`, http.StatusNotImplemented, signal.CodeNoTranscription},
		{noStore, "GET", "/api/meetings/MT_k2p4r6t8v2x4z6/transcript", "", http.StatusNotImplemented, signal.CodeNoTranscription},
		{missing, "GET", "/api/meetings/not-a-meeting/transcript", "", http.StatusNotFound, signal.CodeNotFound},
		{missing, "GET", "/api/meetings/MT_k2p4r6t8v2x4z6/transcript", "", http.StatusNotFound, signal.CodeNotFound},
		{missing, "GET", "/api/meetings/MT_k2p4r6t8v2x4z6/transcript?format=docx", "", http.StatusBadRequest, signal.CodeInvalidField},
		{broken, "GET", "/api/meetings/MT_k2p4r6t8v2x4z6/transcript", "", http.StatusInternalServerError, signal.CodeInternal},
	} {
		req, err := http.NewRequest(c.method, c.srv.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
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

// TestRoomTranscriptionJSON checks that a room's transcription state
// keeps its wire field names in the REST API.
func TestRoomTranscriptionJSON(t *testing.T) {
	srv := newAPI(t, Options{})
	resp, err := http.Get(srv.URL + "/api/rooms/" + liveRoom)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got struct {
		Participants  int
		MeetingID     string `json:"meeting_id"`
		Transcription map[string]any
	}
	if err := json.Unmarshal(b, &got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
	}
	want := map[string]any{"enabled": false, "meeting_id": got.MeetingID}
	if got.Participants != 1 || !strings.HasPrefix(got.MeetingID, "MT_") || len(got.Transcription) != len(want) ||
		got.Transcription["enabled"] != want["enabled"] || got.Transcription["meeting_id"] != want["meeting_id"] {
		t.Errorf("GET /api/rooms/%s: %s", liveRoom, b)
	}
}
