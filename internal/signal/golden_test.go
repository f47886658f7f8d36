package signal

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/sfu"
)

// The golden files hold each message exactly as it goes on the wire (one
// compact JSON object, then a newline). `go test ./internal/signal -run
// Golden -update` rewrites them from the samples below; review the diff:
// a changed golden is a changed protocol.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Sample values, one per message type, with every field set (the test
// checks it) so that each field name and omitempty choice is pinned.
var (
	t0    = time.Date(2026, 11, 27, 9, 58, 12, 403_000_000, time.UTC)
	ada   = room.ParticipantInfo{ID: "PA_h2k4m6p8r2t4", Name: "Ada Lovelace", JoinedAt: t0.Add(108 * time.Second), Connected: true, Role: "owner"}
	grace = room.ParticipantInfo{ID: "PA_x3m5q7s9v2w4", Name: "Grace", JoinedAt: t0.Add(113 * time.Second), HandRaised: true,
		Connected: true, TranscriptionOptOut: true, Role: "guest", Guest: true}
	locked  = room.Settings{Access: "trusted", Locked: true, TranscriptionBy: "moderators", SpeakModerated: true}
	waiting = []room.LobbyEntry{{ID: "PA_w7n3b5c1d9f2", Name: "Guest Lin", Guest: true}}
	camera  = sfu.Info{ID: "TR_q4m2x7ab3k", OwnerID: ada.ID, Kind: "video", Source: "camera", Codec: "video/VP8",
		Simulcast: []string{"q", "h", "f"}}
	roomMic = sfu.Info{ID: "TR_8vdk2mw4pc", OwnerID: grace.ID, Kind: "audio", Source: "microphone", Codec: "audio/opus",
		Muted: true, SharedMic: true, Speakers: 3}
	trState  = room.TranscriptionState{Enabled: true, By: grace.ID, ByName: grace.Name, MeetingID: "MT_k2p4r6t8v2x4z6", Since: 12.5}
	recState = room.RecordingState{Enabled: true, By: ada.ID, ByName: ada.Name, Since: 61.25}
	trOff    = room.TranscriptionState{MeetingID: "MT_k2p4r6t8v2x4z6", Error: "consent_not_recorded"}
)

// eventSamples holds one value of every room event type.
var eventSamples = []room.Event{
	room.Joined{ParticipantID: ada.ID, Room: "abcd-efghi-jklm", ResumeToken: "k3xq7b2mzp9d4hw6",
		Participants: []room.ParticipantInfo{ada, grace}, Tracks: []sfu.Info{camera, roomMic},
		ICEServers: []sfu.ICEServer{{URLs: []string{"stun:stun.example.org:3478"}}, {URLs: []string{"turns:meet.example.org:443?transport=tcp"}, Username: "1796000000:PA_ada", Credential: "q3J8m5Zb0uVd4x7yH2kL9sT1wE6="}}, ActiveSpeaker: grace.ID, Resumed: true,
		MeetingID: trState.MeetingID, MeetingStarted: t0, Transcription: trOff, TranscriptionAvailable: true,
		Recording: recState, RecordingAvailable: true,
		MeetingKey: "m9Qx2vT7kLp4Wz8rN3bY6cH1jD5fG0sA", Role: "owner", Settings: locked, Lobby: waiting},
	room.Published{ClientTrackID: "6c1e4a2f-93b0-4d7e-8f15-2a9c0e7d3b61", Track: camera},
	room.ParticipantJoined{Participant: grace},
	room.ParticipantUpdated{Participant: grace},
	room.ParticipantLeft{ParticipantID: grace.ID, Reason: room.ReasonConnectionLost},
	room.TrackPublished{Track: camera},
	room.TrackUpdated{Track: roomMic},
	room.TrackUnpublished{TrackID: roomMic.ID, ParticipantID: grace.ID},
	room.ActiveSpeaker{ParticipantID: grace.ID, Speaking: []string{ada.ID, grace.ID}},
	// The text pins json.Marshal's escaping of <, > and & (\u003c…),
	// which the wire has always had; any JSON reader undoes it.
	room.Chat{ID: "CH_p2m4k6r8t2", ParticipantID: grace.ID, Name: grace.Name, Text: "Slides: <https://intranet.example/q3> & notes",
		Time: t0.Add(170 * time.Second)},
	room.Reaction{ParticipantID: grace.ID, Emoji: "👏"},
	room.Bye{Reason: room.ReasonShutdown},
	room.TranscriptionChanged{TranscriptionState: trState},
	room.RecordingChanged{RecordingState: recState},
	room.Caption{SpeakerID: grace.ID, SpeakerName: grace.Name, Text: "shall we start", Final: true, Start: 14.82, End: 15.9},
	room.Lobby{},
	room.LobbyChanged{Waiting: waiting},
	room.Moderated{Action: room.ActMute, By: ada.ID, ByName: ada.Name},
	room.SettingsChanged{Settings: locked},
	room.Layers{TrackID: camera.ID, RIDs: []string{"q", "h"}},
}

// sessionSamples are the messages the session builds itself.
var sessionSamples = []any{
	answerMsg{Type: TypeAnswer, SDP: "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n", Ref: "m-3"},
	offerMsg{Type: TypeOffer, SDP: "v=0\r\no=- 7384215525812470412 2 IN IP4 127.0.0.1\r\n",
		Mids: map[string]string{"0": roomMic.ID, "1": camera.ID}},
	errorReply(fmt.Errorf("mute: %w", room.ErrUnknownTrack), "m-17"),
	pongMsg{Type: TypePong, TS: 1764250000123},
}

// outbound gives the wire struct of each server message type, to decode
// its golden file into.
var outbound = map[string]func() any{
	TypeJoined:             func() any { return new(joinedMsg) },
	TypePublished:          func() any { return new(publishedMsg) },
	TypeParticipantJoined:  func() any { return new(participantMsg) },
	TypeParticipantUpdated: func() any { return new(participantMsg) },
	TypeParticipantLeft:    func() any { return new(participantLeftMsg) },
	TypeTrackPublished:     func() any { return new(trackMsg) },
	TypeTrackUpdated:       func() any { return new(trackMsg) },
	TypeTrackUnpublished:   func() any { return new(trackUnpublishedMsg) },
	TypeActiveSpeaker:      func() any { return new(activeSpeakerMsg) },
	TypeChat:               func() any { return new(chatMsg) },
	TypeReaction:           func() any { return new(reactionMsg) },
	TypeBye:                func() any { return new(byeMsg) },
	TypeTranscription:      func() any { return new(transcriptionMsg) },
	TypeRecording:          func() any { return new(recordingMsg) },
	TypeCaption:            func() any { return new(captionMsg) },
	TypeAnswer:             func() any { return new(answerMsg) },
	TypeOffer:              func() any { return new(offerMsg) },
	TypeError:              func() any { return new(errorMsg) },
	TypePong:               func() any { return new(pongMsg) },
	TypeLobby:              func() any { return new(lobbyMsg) },
	TypeLobbyChanged:       func() any { return new(lobbyChangedMsg) },
	TypeModerated:          func() any { return new(moderatedMsg) },
	TypeSettingsChanged:    func() any { return new(settingsMsg) },
	TypeLayers:             func() any { return new(layersMsg) },
}

// inboundSamples holds one client message of every type, every field of
// the type set.
var inboundSamples = []Inbound{
	{Type: TypeJoin, Ref: "m-1", Token: "v1.eyJyb29tIjoiYWJjZC1lZmdoaS1qa2xtIn0.c2lnbmF0dXJl", Room: "abcd-efghi-jklm", Name: "Ada Lovelace", Subscribe: ptr(false)},
	{Type: TypeJoin, Ref: "m-1", ResumeToken: "k3xq7b2mzp9d4hw6"},
	{Type: TypeOffer, Ref: "m-3", SDP: "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"},
	{Type: TypeAnswer, SDP: "v=0\r\no=- 7384215525812470412 2 IN IP4 127.0.0.1\r\n"},
	{Type: TypeCandidate, Target: "subscriber", Candidate: &Candidate{Candidate: "candidate:1 1 udp 2122260223 192.0.2.7 54321 typ host",
		SDPMid: ptr("0"), SDPMLineIndex: ptr[uint16](0), UsernameFragment: ptr("Xq3t")}},
	{Type: TypePublish, ClientTrackID: "6c1e4a2f-93b0-4d7e-8f15-2a9c0e7d3b61", Kind: "video", Source: "camera", Simulcast: []string{"q", "h", "f"}},
	{Type: TypePublish, ClientTrackID: "0b8d5e21-7c4a-4f96-a3e2-5d1f8c6b9a70", Kind: "audio", Source: "microphone", SharedMic: true, Speakers: 3},
	{Type: TypeUnpublish, TrackID: "TR_q4m2x7ab3k"},
	{Type: TypeMute, TrackID: "TR_q4m2x7ab3k", Muted: ptr(true)},
	{Type: TypeSubscription, TrackID: "TR_8vdk2mw4pc", Layer: "low", Paused: ptr(false)},
	{Type: TypeRaiseHand, Raised: ptr(true)},
	{Type: TypeReaction, Emoji: "👏"},
	{Type: TypeChat, Text: "Slides are at https://intranet.example/q3"},
	{Type: TypeTranscription, Enabled: ptr(true)},
	{Type: TypeRecording, Enabled: ptr(true)},
	{Type: TypeOptOut, OptOut: ptr(true)},
	{Type: TypeCaptions, Enabled: ptr(false)},
	{Type: TypeSharedMic, TrackID: "TR_8vdk2mw4pc", Shared: ptr(true), Speakers: 3},
	{Type: TypeICERestart},
	{Type: TypeLeave},
	{Type: TypePing, TS: 1764250000123},
	{Type: TypeModerate, Action: "remove", ParticipantID: grace.ID},
	{Type: TypeModerate, Action: "lock", Value: ptr(true)},
	{Type: TypeModerate, Action: "transcription_by", Policy: "moderators"},
}

func ptr[T any](v T) *T { return &v }

// inboundGolden names a client sample's golden file: its type, with a
// suffix for the second sample of a type (join_2.json: by resume token).
func inboundGolden(i int) string {
	typ, n := inboundSamples[i].Type, 1
	for _, m := range inboundSamples[:i] {
		if m.Type == typ {
			n++
		}
	}
	if n > 1 {
		typ += fmt.Sprintf("_%d", n)
	}
	return filepath.Join("testdata", "in", typ+".json")
}

func outboundGolden(typ string) string { return filepath.Join("testdata", "out", typ+".json") }

// checkGolden compares b (plus a newline) with the golden file, or
// rewrites the file with -update.
func checkGolden(t *testing.T, path string, b []byte) {
	t.Helper()
	b = append(b, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs from what the code sends:\n got %s\nwant %s", path, b, want)
	}
}

// strictDecode decodes one JSON object into v, rejecting unknown fields
// and trailing data.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

func TestGoldenOutbound(t *testing.T) {
	seen := map[string]bool{}
	check := func(typ string, b []byte) {
		t.Helper()
		if seen[typ] {
			t.Errorf("two samples of %q", typ)
		}
		seen[typ] = true
		path := outboundGolden(typ)
		checkGolden(t, path, b)
		// Golden → wire struct → JSON gives the golden back, so the struct
		// reads what it writes.
		golden, err := os.ReadFile(path)
		if err != nil {
			return
		}
		newMsg, ok := outbound[typ]
		if !ok {
			t.Errorf("%s: no wire struct listed for %q", path, typ)
			return
		}
		v := newMsg()
		if err := strictDecode(golden, v); err != nil {
			t.Errorf("%s: %v", path, err)
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(append(again, '\n'), golden) {
			t.Errorf("%s does not survive decode and encode:\n got %s\nwant %s", path, again, golden)
		}
	}
	for _, ev := range eventSamples {
		b, err := encode(ev)
		if err != nil {
			t.Errorf("%T: %v", ev, err)
			continue
		}
		typ := typeOf(t, b)
		check(typ, b)
		// Every field of the event has a field on the wire: the wire
		// struct has the event's fields plus "type".
		if newMsg, ok := outbound[typ]; ok {
			wire, event := reflect.TypeOf(newMsg()).Elem(), reflect.TypeOf(ev)
			if wire.NumField() != event.NumField()+1 {
				t.Errorf("%s has %d fields, its wire struct %s %d: want one more (type)", event, event.NumField(), wire.Name(), wire.NumField())
			}
		}
	}
	for _, m := range sessionSamples {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		check(typeOf(t, b), b)
	}
	for typ := range outbound {
		if !seen[typ] {
			t.Errorf("server message %q has no sample, so no golden file", typ)
		}
	}
}

func TestGoldenInbound(t *testing.T) {
	for i, m := range inboundSamples {
		path := inboundGolden(i)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, path, b)
		golden, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// Golden → Decode (with its validation) → JSON gives the golden back.
		got, err := Decode(bytes.TrimSuffix(golden, []byte("\n")))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(append(again, '\n'), golden) {
			t.Errorf("%s does not survive Decode and encode:\n got %s\nwant %s", path, again, golden)
		}
	}
}

// TestGoldenComplete fails when a message type, a room event or a wire
// struct has no golden file, when a sample leaves a field unset, or when
// a golden file belongs to no sample.
func TestGoldenComplete(t *testing.T) {
	// Every event type of package room has a sample.
	sampled := map[string]bool{}
	for _, ev := range eventSamples {
		sampled[reflect.TypeOf(ev).Name()] = true
	}
	for _, name := range roomEventTypes(t) {
		if !sampled[name] {
			t.Errorf("room.%s has no sample in eventSamples, so no golden file", name)
		}
	}
	// Every wire struct of this package is the struct of a listed type.
	listed := map[string]bool{}
	for _, newMsg := range outbound {
		listed[reflect.TypeOf(newMsg()).Elem().Name()] = true
	}
	for _, name := range wireStructs(t) {
		if name != "Inbound" && !listed[name] {
			t.Errorf("wire struct %s is not listed in outbound, so it has no golden file", name)
		}
	}
	// Every Type constant is a client message with a golden under in/, a
	// server message with one under out/, or both.
	in := map[string]bool{}
	for i, m := range inboundSamples {
		in[m.Type] = true
		if _, err := os.Stat(inboundGolden(i)); err != nil {
			t.Error(err)
		}
	}
	for _, typ := range typeConstants(t) {
		_, err := Decode([]byte(`{"type":"` + typ + `"}`))
		isClient := CodeOf(err) != CodeUnknownType
		if isClient && !in[typ] {
			t.Errorf("client message %q has no sample in inboundSamples, so no golden file", typ)
		}
		if _, isServer := outbound[typ]; !isClient && !isServer {
			t.Errorf("%q is neither a client message nor a listed server message", typ)
		}
	}
	// No stale golden files.
	want := map[string]bool{}
	for i := range inboundSamples {
		want[inboundGolden(i)] = true
	}
	for typ := range outbound {
		want[outboundGolden(typ)] = true
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	for _, f := range files {
		if !want[f] {
			t.Errorf("%s belongs to no sample: remove it", f)
		}
	}
	// Every field of every wire struct is set in some sample, so that the
	// goldens pin every field name (omitempty ones included).
	set := map[string]bool{}
	for _, ev := range eventSamples {
		b, err := encode(ev)
		if err != nil {
			continue // TestGoldenOutbound reports it
		}
		newMsg, ok := outbound[typeOf(t, b)]
		if !ok {
			continue
		}
		v := newMsg()
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
		markSet(reflect.ValueOf(v).Elem(), set)
	}
	for _, m := range sessionSamples {
		markSet(reflect.ValueOf(m), set)
	}
	for _, m := range inboundSamples {
		markSet(reflect.ValueOf(m), set)
	}
	var unset []string
	for f, ok := range set {
		if !ok {
			unset = append(unset, f)
		}
	}
	sort.Strings(unset)
	if len(unset) > 0 {
		t.Errorf("no sample sets %s", strings.Join(unset, ", "))
	}
}

// markSet records, for each field of v's struct type (and of the structs
// it holds), whether v sets it.
func markSet(v reflect.Value, set map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			markSet(v.Elem(), set)
		}
	case reflect.Slice:
		for i := range v.Len() {
			markSet(v.Index(i), set)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			key := v.Type().Name() + "." + f.Name
			set[key] = set[key] || !v.Field(i).IsZero()
			markSet(v.Field(i), set)
		}
	}
}

func typeOf(t *testing.T, b []byte) string {
	t.Helper()
	var m struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Type == "" {
		t.Fatalf("%s: no type (%v)", b, err)
	}
	return m.Type
}
