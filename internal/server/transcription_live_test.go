package server

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/asr/engine"
	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/jobs"
	"github.com/parleyhq/parley/internal/testkit/devset"
	"github.com/parleyhq/parley/internal/transcript"
)

// TestLiveTranscriptionOfStems is the live-transcription integration
// test: three pion clients publish the Opus-encoded stems of a dev meeting; an observer's
// captions carry the right names and words, and the stored transcript
// scores like the offline pipeline.
func TestLiveTranscriptionOfStems(t *testing.T) {
	m, err := devset.Get("dev-r-en-01")
	if err != nil {
		t.Fatal(err)
	}
	opus := encodeStems(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startLiveServer(t, liveConfig(t))
	lm := runLiveMeeting(t, ctx, srv, "live-stems", opus, 90*time.Second)
	meetingID, meetingKey := "", ""
	for _, msg := range lm.observer.Messages() {
		if msg.Type == "joined" {
			meetingID, meetingKey = msg.MeetingID, msg.MeetingKey
		}
	}
	time.Sleep(2 * time.Second) // the last utterance's final caption
	// Everyone leaves: the meeting ends and its transcript is completed.
	ended := time.Now()
	var wg sync.WaitGroup
	for _, c := range lm.speakers {
		wg.Add(1)
		go func() { defer wg.Done(); c.Close() }()
	}
	wg.Wait()
	lm.observer.Close()

	// Captions: every final caption names the participant whose track it
	// came from, and each speaker's captions contain their own words.
	ids := map[string]string{}
	for name, c := range lm.speakers {
		ids[c.ID()] = name
	}
	refWords := map[string]map[string]bool{}
	segsRef, _ := devset.ReadTranscript(m.Transcript)
	for _, s := range segsRef {
		if refWords[s.Speaker] == nil {
			refWords[s.Speaker] = map[string]bool{}
		}
		for _, w := range strings.Fields(strings.ToLower(strings.Trim(s.Text, ".,"))) {
			refWords[s.Speaker][strings.Trim(w, ".,")] = true
		}
	}
	hits := map[string]int{}
	for _, msg := range lm.finalCaptions() {
		var c captionMsg
		json.Unmarshal(msg.Raw, &c)
		name, ok := ids[c.SpeakerID]
		if !ok || name != c.SpeakerName {
			t.Errorf("caption %q attributed to %s (%s), not a speaker's participant id", c.Text, c.SpeakerName, c.SpeakerID)
			continue
		}
		for _, w := range strings.Fields(c.Text) {
			if refWords[name][w] {
				hits[name]++
			}
		}
	}
	for name := range opus {
		if hits[name] == 0 {
			t.Errorf("no caption of %s contains one of their words (%d final captions in all)", name, len(lm.finalCaptions()))
		}
	}

	// The stored transcript: complete soon after the meeting ended.
	var doc struct {
		Segments []struct {
			Speaker string  `json:"speaker"`
			Start   float64 `json:"start"`
			End     float64 `json:"end"`
			Text    string  `json:"text"`
		} `json:"segments"`
	}
	want := len(lm.finalCaptions())
	for {
		json.Unmarshal(fetchTranscript(t, srv.URL(), meetingID, meetingKey, "json"), &doc)
		if len(doc.Segments) >= want || time.Since(ended) > 20*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("transcript of %d segments complete %v after the meeting ended", len(doc.Segments), time.Since(ended).Round(10*time.Millisecond))
	if len(doc.Segments) < want {
		t.Fatalf("transcript has %d segments, %d final captions were sent", len(doc.Segments), want)
	}
	var hyp []map[string]any
	for _, s := range doc.Segments {
		hyp = append(hyp, map[string]any{"speaker": s.Speaker, "start": s.Start, "end": s.End, "text": s.Text})
	}
	if os.Getenv("PARLEY_TEST_DUMP") != "" {
		os.WriteFile(os.Getenv("PARLEY_TEST_DUMP"), fetchTranscript(t, srv.URL(), meetingID, meetingKey, "json"), 0o644)
	}
	wer, cpwer := scoreCpWER(t, m, hyp)
	st, dst := srv.Speech.Stats(), srv.Speech.DecoderStats()
	t.Logf("live transcript: WER %.1f %%, cpWER %.1f %% (audio dropped %.1f s; packets %d lost %d late %d re-anchored %d)",
		wer, cpwer, st.DroppedSeconds, dst.Packets, dst.Lost, dst.Late, dst.Reanchors)

	// The same stems through the offline pipeline of `parley transcribe
	// --track`: the live path must be as accurate, within 3 points of
	// cpWER. The offline run reads the dev set's stems themselves; the Opus
	// files the clients sent are transcribed too, for the record (each word
	// is 0.8 points here, and the Ogg reader's pre-skip shifts the audio by
	// 6.5 ms against what RTP delivers, which moves a word or two either
	// way).
	offline := func(files map[string]string) float64 {
		_, cp := scoreCpWER(t, m, transcribeOffline(ctx, t, files))
		return cp
	}
	offStems, offOpus := offline(m.Stems), offline(opus)
	t.Logf("parley transcribe --track: cpWER %.1f %% on the stems, %.1f %% on the Opus files sent", offStems, offOpus)
	if cpwer > offStems+3 {
		t.Errorf("live cpWER %.1f %% is more than 3 points worse than offline %.1f %%", cpwer, offStems)
	}
	for _, f := range []string{"vtt", "srt", "md", "txt", "rttm"} {
		if b := fetchTranscript(t, srv.URL(), meetingID, meetingKey, f); len(b) == 0 {
			t.Errorf("empty %s transcript", f)
		}
	}
}

// transcribeOffline runs what `parley transcribe --track NAME=FILE ...`
// runs with its default flags on files (speaker name → audio file): the
// pocketsphinx engine with one decoder per CPU, one transcript track per
// file fed in 0.5 s chunks as fast as the recogniser takes them, the
// transcript exported as JSON. It returns the JSON's segments.
func transcribeOffline(ctx context.Context, t *testing.T, files map[string]string) []map[string]any {
	t.Helper()
	readers := map[string]*audiofile.Reader{}
	for name, path := range files {
		r, err := audiofile.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		readers[name] = r
	}
	eng, err := engine.New(engine.Config{Name: "pocketsphinx", Language: "en", Streams: runtime.NumCPU()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var sources []jobs.Source
	for name, r := range readers {
		sources = append(sources, jobs.Source{Speaker: name, Name: files[name], Audio: r})
	}
	tx, err := jobs.Transcribe(ctx, sources, jobs.TranscribeOptions{Meeting: transcript.Meeting{ID: "offline"}, Engine: eng})
	if err != nil {
		t.Fatalf("offline transcription: %v", err)
	}
	var b bytes.Buffer
	if err := transcript.Write(&b, tx, transcript.JSON); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Segments []map[string]any `json:"segments"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Segments
}
