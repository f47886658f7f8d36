package room

import (
	"errors"
	"testing"
)

// TestConsentRecordFailureStopsTranscription: when the store refuses the
// "transcription on" record, transcription does not start and everyone is
// told why; when an opt-out cannot be recorded, transcription stops.
func TestConsentRecordFailureStopsTranscription(t *testing.T) {
	sp := &speechLog{noteErr: errors.New("disk full")}
	m := newManager(t, sp, 0)
	ca, cb := &conn{}, &conn{}
	a, _ := m.Join(roomID, "Ada", ca, JoinOptions{})
	m.Join(roomID, "Bob", cb, JoinOptions{})
	rm, _ := m.Room(roomID)
	if err := a.SetTranscription(true); !errors.Is(err, ErrConsent) {
		t.Fatalf("transcription on with its record refused: %v", err)
	}
	if rm.Transcription().Enabled || sp.ended != 1 {
		t.Fatalf("transcription on (%v) or the pipeline not ended (%d) after a failed consent record", rm.Transcription().Enabled, sp.ended)
	}
	if tc, ok := last[TranscriptionChanged](cb); !ok || tc.Enabled || tc.Error != "consent_not_recorded" {
		t.Fatalf("Bob was not told: %+v", tc)
	}

	// The store recovers; transcription goes on; then an opt-out fails.
	sp.mu.Lock()
	sp.noteErr = nil
	sp.mu.Unlock()
	if err := a.SetTranscription(true); err != nil || !rm.Transcription().Enabled {
		t.Fatalf("transcription on: %v", err)
	}
	sp.mu.Lock()
	sp.noteErr = errors.New("disk full")
	sp.mu.Unlock()
	a.SetOptOut(true)
	if rm.Transcription().Enabled {
		t.Fatal("transcription went on though Ada's opt-out was not recorded")
	}
	if tc, ok := last[TranscriptionChanged](cb); !ok || tc.Enabled || tc.Error == "" {
		t.Fatalf("Bob was not told transcription stopped: %+v", tc)
	}
}

// TestTranscriptionPolicyAndRoles: in a room where only moderators turn
// transcription on, a participant is refused and a moderator is not.
func TestTranscriptionPolicyAndRoles(t *testing.T) {
	m := newManager(t, &speechLog{}, 0)
	mod, _ := m.Join(roomID, "Ada", &conn{}, JoinOptions{Identity: Identity{Role: RoleModerator}})
	p, _ := m.Join(roomID, "Bob", &conn{}, JoinOptions{})
	if err := mod.Moderate(Action{Kind: ActTranscriptBy, Policy: ByModerators}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetTranscription(true); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("participant turned transcription on: %v", err)
	}
	if err := mod.SetTranscription(true); err != nil {
		t.Fatalf("moderator: %v", err)
	}
	if err := p.Moderate(Action{Kind: ActTranscriptBy, Policy: ByEveryone}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("participant changed the policy: %v", err)
	}
}
