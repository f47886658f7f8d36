package speech_test

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/parleyhq/parley/internal/asr/pocketsphinx"
	"github.com/parleyhq/parley/internal/speech"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/testkit/asrtest"
	"github.com/parleyhq/parley/internal/transcript"
)

type sink struct {
	mu sync.Mutex
	cs []speech.Caption
}

func (s *sink) Caption(c speech.Caption) {
	s.mu.Lock()
	s.cs = append(s.cs, c)
	s.mu.Unlock()
}

// TestLiveTwoSpeakersPocketsphinx runs the live pipeline as the SFU will:
// two participants' tracks written in 20 ms chunks, real speech overlapping
// in time, pocketsphinx, SQLite. Captions carry the right names, the words
// land on the meeting clock, segments are committed as they are produced.
func TestLiveTwoSpeakersPocketsphinx(t *testing.T) {
	ctx := context.Background()
	eng, err := pocketsphinx.New(pocketsphinx.Config{Pool: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	db, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	meeting := transcript.Meeting{ID: "standup"}
	if err := db.CreateMeeting(ctx, meeting); err != nil {
		t.Fatal(err)
	}
	sk := &sink{}
	sess, err := speech.NewSession(speech.Config{Meeting: meeting, Engine: eng, Store: db, Sink: sk})
	if err != nil {
		t.Fatal(err)
	}
	david := asrtest.Load(t, asrtest.Clips[0])  // "go forward ten meters", speech from ~0.4 s
	bridge := asrtest.Load(t, asrtest.Clips[1]) // "you will now be placed into the conference"
	a, _ := sess.AddTrack("p-david", "David")
	b, _ := sess.AddTrack("p-bridge", "Bridge Voice")
	var wg sync.WaitGroup
	write := func(tr *speech.Track, at float64, pcm []float32) {
		defer wg.Done()
		for i := 0; i < len(pcm); i += 320 {
			tr.Write(at+float64(i)/16000, pcm[i:min(i+320, len(pcm))])
		}
	}
	wg.Add(2)
	// David at 5.0 s; the bridge starts at 6.0 s, over him.
	go write(a, 5.0, append(david, asrtest.Silence(1)...))
	go write(b, 6.0, append(bridge, asrtest.Silence(1)...))
	wg.Wait()
	if err := sess.Close(ctx); err != nil {
		t.Fatal(err)
	}
	tr, err := db.Transcript(ctx, "standup")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Segments) != 2 {
		t.Fatalf("segments %+v", tr.Segments)
	}
	d, g := tr.Segments[0], tr.Segments[1]
	if d.Speaker != "David" || d.Text != "go forward ten meters" || g.Speaker != "Bridge Voice" || g.Text != asrtest.Clips[1].Text {
		t.Fatalf("%q: %q / %q: %q", d.Speaker, d.Text, g.Speaker, g.Text)
	}
	// pocketsphinx puts "go" at 0.38 s into the clip: 5.38 on the meeting clock.
	if math.Abs(d.Words[0].Start-5.38) > 0.1 || d.Start != d.Words[0].Start || g.Start < 6.3 || g.Start > 7.0 {
		t.Errorf("meeting clock: david %+v, bridge starts %.2f", d.Words, g.Start)
	}
	if len(tr.Speakers) != 2 {
		t.Errorf("speakers %+v", tr.Speakers)
	}
	partials, finals := map[string]int{}, map[string]string{}
	for _, c := range sk.cs {
		if c.Final {
			finals[c.SpeakerName] = c.Text
		} else {
			partials[c.SpeakerName]++
			if !strings.Contains(c.Text, " ") && c.Text == "" {
				t.Errorf("empty partial %+v", c)
			}
		}
	}
	if finals["David"] != d.Text || finals["Bridge Voice"] != g.Text || partials["David"] == 0 || partials["Bridge Voice"] == 0 {
		t.Errorf("captions: partials %v finals %v", partials, finals)
	}
}
