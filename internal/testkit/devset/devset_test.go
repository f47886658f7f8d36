package devset

import "testing"

func TestMeetings(t *testing.T) {
	ms, err := Meetings()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 {
		t.Fatalf("got %d meetings, want at least 3", len(ms))
	}
	m, err := Get("dev-s-en-01")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Speakers(); len(got) != 4 || m.Lang != "en" {
		t.Fatalf("dev-s-en-01: speakers %v lang %q", got, m.Lang)
	}
	segs, err := ReadTranscript(m.Transcript)
	if err != nil || len(segs) == 0 {
		t.Fatalf("transcript: %v (%d segments)", err, len(segs))
	}
}
