package signal

import (
	"strings"
	"testing"
)

func TestDecodeValidates(t *testing.T) {
	ok := []string{
		`{"type":"join","token":"v1.e30.c2ln"}`,
		`{"type":"join","resume_token":"tok"}`,
		`{"type":"offer","sdp":"v=0"}`,
		`{"type":"candidate","target":"publisher","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 1 typ host","sdpMid":"0"}}`,
		`{"type":"publish","client_track_id":"t1","kind":"video","source":"camera","simulcast":["q","h","f"]}`,
		`{"type":"mute","track_id":"TR_x","muted":false}`,
		`{"type":"subscription","track_id":"TR_x","layer":"low","paused":true}`,
		`{"type":"raise_hand","raised":true}`,
		`{"type":"chat","text":"hi"}`,
		`{"type":"ping","ts":1}`,
		`{"type":"leave"}`,
	}
	for _, s := range ok {
		if _, err := Decode([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := map[string]Code{
		`{"type":"join"}`: CodeNoToken,
		`{"type":"join","room":"abc-defg-hij","name":"Ada"}`:                 CodeNoToken,
		`{"type":"moderate","action":"mute"}`:                                CodeInvalidField,
		`{"type":"moderate","action":"reboot"}`:                              CodeInvalidField,
		`{"type":"moderate","action":"lock"}`:                                CodeInvalidField,
		`{"type":"moderate","action":"transcription_by","policy":"whoever"}`: CodeInvalidField,
		`{"type":"offer"}`: CodeInvalidField,
		`{"type":"candidate","target":"sideways","candidate":{"candidate":"x"}}`: CodeInvalidField,
		`{"type":"publish","client_track_id":"t","kind":"smell"}`:                CodeInvalidField,
		`{"type":"publish","client_track_id":"t","kind":"audio","source":"x"}`:   CodeInvalidField,
		`{"type":"mute","track_id":"x"}`:                                         CodeInvalidField,
		`{"type":"warp"}`:                                                        CodeUnknownType,
		`{"name":"no type"}`:                                                     CodeMalformed,
		`{"type":"ping"} {"type":"ping"}`:                                        CodeMalformed,
		`"just a string"`:                                                        CodeMalformed,
		`{"type":1}`:                                                             CodeMalformed,
		`{"type":"chat","text":"` + strings.Repeat("a", MaxMessageSize) + `"}`:   CodeTooLarge,
	}
	for s, want := range bad {
		_, err := Decode([]byte(s))
		if got := CodeOf(err); err == nil || got != want {
			t.Errorf("%.60s: got %v (code %d), want code %d", s, err, got, want)
		}
	}
}

// FuzzDecode runs the signalling decoder on arbitrary client bytes: it
// must return a message or an error with a registered code, never panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"join","token":"v1.e30.c2ln"}`))
	f.Add([]byte(`{"type":"candidate","target":"publisher","candidate":{"candidate":"x","sdpMLineIndex":0}}`))
	f.Add([]byte(`{"type":"publish","client_track_id":"t1","kind":"video","simulcast":["q","h","f"]}`))
	f.Add([]byte(`{"type":"mute","track_id":"TR_x","muted":true}`))
	f.Add([]byte(`{"type":"moderate","action":"mute","participant_id":"PA_x1y2z3"}`))
	f.Add([]byte(`{"type":"moderate","action":"lock","value":true}`))
	f.Add([]byte(`{"type":"moderate","action":"transcription_by","policy":"moderators"}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if _, ok := Codes()[CodeOf(err)]; !ok {
				t.Fatalf("error %v has unregistered code %d", err, CodeOf(err))
			}
			return
		}
		if m.Type == "" {
			t.Fatal("accepted a message without type")
		}
	})
}
