package server

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
)

// TestTranscribedMeetingShutsDownClean shuts a server down while a
// meeting is transcribed by pocketsphinx (a speech tap, decoder,
// transcript track and recogniser per audio track): start's check then
// finds no goroutine of ours or pion's left behind.
func TestTranscribedMeetingShutsDownClean(t *testing.T) {
	srv := start(t, func(c *config.Config) { c.Speech.Engine, c.Speech.Streams = "pocketsphinx", 1 })
	_, subC, audio, _ := pair(t, srv)
	if err := subC.Send(map[string]any{"type": "transcription", "enabled": true}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the audio track transcribed", func() bool { return srv.Speech.Stats().Tracks == 1 })
	flowing(t, subC, audio.ServerID(), 3*time.Second)
}
