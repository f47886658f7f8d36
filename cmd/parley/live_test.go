package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/client"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/devset"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/testkit/leak"
)

// encodeStems turns a meeting's FLAC stems into Ogg/Opus files of 20 ms
// packets (what a browser sends) with opusenc from opus-tools.
func encodeStems(t *testing.T, m devset.Meeting) map[string]string {
	t.Helper()
	out := map[string]string{}
	dir := t.TempDir()
	for name, flac := range m.Stems {
		dst := filepath.Join(dir, name+".opus")
		cmd := exec.Command("opusenc", "--quiet", "--framesize", "20", "--bitrate", "32", flac, dst)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("opusenc %s: %v\n%s", flac, err, b)
		}
		out[name] = dst
	}
	return out
}

// meeting is a live meeting of the stems of one dev-set meeting: one
// pion client per speaker publishing their stem, and an observer.
type liveMeeting struct {
	srv      *server.Server
	observer *client.Client
	speakers map[string]*client.Client // by stem name
	tracks   map[string]*client.LocalTrack
}

// startLiveServer starts a server with the default speech engine
// (pocketsphinx); when the test ends it shuts it down and checks that no
// goroutine of ours or pion's is left behind.
func startLiveServer(t *testing.T, dataDir string) *server.Server {
	t.Helper()
	before := leak.Take()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.Media.UDPPort, cfg.Media.TCPPort = 0, -1
	cfg.Media.ListenIP = "127.0.0.1"
	cfg.Media.ICEInterfaces = []string{"lo"}
	srv, err := server.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		before.Check(t, 5*time.Second)
	})
	return srv
}

// runLiveMeeting joins everyone, turns transcription on, plays every stem
// from the same instant and waits until they have all been sent.
func runLiveMeeting(t *testing.T, ctx context.Context, srv *server.Server, room string, opus map[string]string, stopAfter time.Duration) *liveMeeting {
	t.Helper()
	lm := &liveMeeting{srv: srv, speakers: map[string]*client.Client{}, tracks: map[string]*client.LocalTrack{}}
	var err error
	lm.observer, err = client.Connect(ctx, srv.URL(), client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lm.observer.Drop() })
	if _, err := lm.observer.Join(ctx, room, "Observer"); err != nil {
		t.Fatal(err)
	}
	lm.observer.Send(map[string]any{"type": "transcription", "enabled": true})
	if _, err := lm.observer.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "transcription" && strings.Contains(string(m.Raw), `"enabled":true`)
	}); err != nil {
		t.Fatalf("transcription not turned on: %v", err)
	}
	names := make([]string, 0, len(opus))
	for n := range opus {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		pkts, err := client.LoadOggOpus(opus[name])
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.Connect(ctx, srv.URL(), client.Options{SendOnly: true, KeepMessages: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Drop() })
		m, err := c.Join(ctx, room, name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Raw), `"transcription":{"enabled":true`) {
			t.Errorf("%s was not told on joining that the meeting is transcribed: %s", name, m.Raw)
		}
		tr, err := c.PublishAudio(ctx, client.AudioOptions{Packets: pkts, StartPaused: true})
		if err != nil {
			t.Fatal(err)
		}
		lm.speakers[name], lm.tracks[name] = c, tr
	}
	// The server announces a track at its first packet, so the tracks
	// are only negotiated here; they start together.
	time.Sleep(500 * time.Millisecond)
	for _, tr := range lm.tracks {
		tr.Pause(false)
	}
	deadline := time.Now().Add(stopAfter)
	for _, tr := range lm.tracks {
		for !tr.Finished() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return lm
}

// finalCaptions returns the observer's final, non-empty captions.
func (lm *liveMeeting) finalCaptions() []client.Message {
	var out []client.Message
	for _, m := range lm.observer.Messages() {
		if m.Type == "caption" && strings.Contains(string(m.Raw), `"final":true`) && m.Text != "" {
			out = append(out, m)
		}
	}
	return out
}

type captionMsg struct {
	SpeakerID   string  `json:"speaker_id"`
	SpeakerName string  `json:"speaker_name"`
	Text        string  `json:"text"`
	Final       bool    `json:"final"`
	Start       float64 `json:"start"`
	End         float64 `json:"end"`
}

func fetchTranscript(t *testing.T, base, meetingID, format string) []byte {
	t.Helper()
	resp, err := http.Get(base + "/api/meetings/" + meetingID + "/transcript?format=" + format)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("transcript %s: %d %s", format, resp.StatusCode, b)
	}
	return b
}

// scoreCpWER writes a hypothesis in the scorers' format and runs the
// shared wer tool on it; it returns WER and cpWER in percent.
func scoreCpWER(t *testing.T, m devset.Meeting, segs []map[string]any) (wer, cpwer float64) {
	t.Helper()
	tools, err := devset.ToolsDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "wer")
	build := exec.Command("go", "build", "-o", bin, "./cmd/wer")
	build.Dir = tools
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build wer: %v\n%s", err, b)
	}
	hyp := filepath.Join(t.TempDir(), m.ID+".json")
	b, _ := json.Marshal(segs)
	os.WriteFile(hyp, b, 0o600)
	out, err := exec.Command(bin, "-ref", m.Transcript, "-hyp", hyp, "-json").Output()
	if err != nil {
		t.Fatalf("wer: %v", err)
	}
	var res struct {
		Total struct {
			WER   float64  `json:"wer"`
			CpWER *float64 `json:"cpwer"`
		} `json:"total"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Total.CpWER == nil {
		t.Fatalf("wer output: %v\n%s", err, out)
	}
	return 100 * res.Total.WER, 100 * *res.Total.CpWER
}

// TestLiveTranscriptionOfStems is issue 4's integration test: three pion
// clients publish the Opus-encoded stems of a dev meeting; an observer's
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
	srv := startLiveServer(t, t.TempDir())
	lm := runLiveMeeting(t, ctx, srv, "live-stems", opus, 90*time.Second)
	meetingID := ""
	for _, msg := range lm.observer.Messages() {
		if msg.Type == "joined" {
			var j struct {
				MeetingID string `json:"meeting_id"`
			}
			json.Unmarshal(msg.Raw, &j)
			meetingID = j.MeetingID
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
		json.Unmarshal(fetchTranscript(t, srv.URL(), meetingID, "json"), &doc)
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
		os.WriteFile(os.Getenv("PARLEY_TEST_DUMP"), fetchTranscript(t, srv.URL(), meetingID, "json"), 0o644)
	}
	wer, cpwer := scoreCpWER(t, m, hyp)
	st, dst := srv.Rooms.SpeechStats(), srv.Rooms.DecoderStats()
	t.Logf("live transcript: WER %.1f %%, cpWER %.1f %% (audio dropped %.1f s; packets %d lost %d late %d re-anchored %d)",
		wer, cpwer, st.DroppedSeconds, dst.Packets, dst.Lost, dst.Late, dst.Reanchors)

	// The same stems through `parley transcribe --track`: the live path
	// must be as accurate, within 3 points of cpWER. The offline run reads
	// the dev set's stems themselves; the Opus files the clients sent are
	// transcribed too, for the record (each word is 0.8 points here, and
	// the Ogg reader's pre-skip shifts the audio by 6.5 ms against what
	// RTP delivers, which moves a word or two either way).
	offline := func(files map[string]string) float64 {
		out := filepath.Join(t.TempDir(), "offline.json")
		args := []string{"--format", "json", "--out", out}
		for name, f := range files {
			args = append(args, "--track", name+"="+f)
		}
		if err := runTranscribe(ctx, args, io.Discard, io.Discard); err != nil {
			t.Fatalf("parley transcribe: %v", err)
		}
		var off struct {
			Segments []map[string]any `json:"segments"`
		}
		b, _ := os.ReadFile(out)
		json.Unmarshal(b, &off)
		_, cp := scoreCpWER(t, m, off.Segments)
		return cp
	}
	offStems, offOpus := offline(m.Stems), offline(opus)
	t.Logf("parley transcribe --track: cpWER %.1f %% on the stems, %.1f %% on the Opus files sent", offStems, offOpus)
	if cpwer > offStems+3 {
		t.Errorf("live cpWER %.1f %% is more than 3 points worse than offline %.1f %%", cpwer, offStems)
	}
	for _, f := range []string{"vtt", "srt", "md", "txt", "rttm"} {
		if b := fetchTranscript(t, srv.URL(), meetingID, f); len(b) == 0 {
			t.Errorf("empty %s transcript", f)
		}
	}
}

// TestSharedMicrophoneIsDiarized: a participant whose one microphone hears
// two people (a meeting room) marks it shared, saying two people are in
// the room; after the meeting its transcript segments carry
// "<name> · speaker N". (The diarizer's own tests cover estimating the
// count; on this 22 s file it is fragile, see docs/diarization.md.)
func TestSharedMicrophoneIsDiarized(t *testing.T) {
	m, err := devset.Get("dev-s-fr-01") // two voices, 22 s
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opus := filepath.Join(dir, "room.opus")
	if b, err := exec.Command("opusenc", "--quiet", "--framesize", "20", "--bitrate", "32", m.Mix, opus).CombinedOutput(); err != nil {
		t.Fatalf("opusenc: %v %s", err, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startLiveServer(t, t.TempDir())
	obs, err := client.Connect(ctx, srv.URL(), client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Drop()
	joined, err := obs.Join(ctx, "shared-room", "Observer")
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		MeetingID string `json:"meeting_id"`
	}
	json.Unmarshal(joined.Raw, &j)
	obs.Send(map[string]any{"type": "transcription", "enabled": true})
	roomSys, err := client.Connect(ctx, srv.URL(), client.Options{SendOnly: true, KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer roomSys.Drop()
	if _, err := roomSys.Join(ctx, "shared-room", "Salle B"); err != nil {
		t.Fatal(err)
	}
	pkts, err := client.LoadOggOpus(opus)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := roomSys.PublishAudio(ctx, client.AudioOptions{Packets: pkts})
	if err != nil {
		t.Fatal(err)
	}
	for tr.ServerID() == "" {
		time.Sleep(10 * time.Millisecond)
	}
	roomSys.Send(map[string]any{"type": "shared_mic", "track_id": tr.ServerID(), "shared": true, "speakers": 2})
	if _, err := obs.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "track_updated" && m.Track != nil && strings.Contains(string(m.Raw), `"shared_mic":true`)
	}); err != nil {
		t.Fatalf("shared microphone not announced: %v", err)
	}
	for !tr.Finished() {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	roomSys.Close()
	obs.Close()
	var doc struct {
		Speakers []struct{ ID, Name string } `json:"speakers"`
		Segments []struct {
			Speaker string `json:"speaker"`
			Text    string `json:"text"`
		} `json:"segments"`
	}
	deadline := time.Now().Add(60 * time.Second)
	labels := map[string]bool{}
	for time.Now().Before(deadline) {
		json.Unmarshal(fetchTranscript(t, srv.URL(), j.MeetingID, "json"), &doc)
		labels = map[string]bool{}
		for _, s := range doc.Segments {
			labels[s.Speaker] = true
		}
		if labels["Salle B · speaker 1"] && labels["Salle B · speaker 2"] {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !labels["Salle B · speaker 1"] || !labels["Salle B · speaker 2"] {
		t.Fatalf("segment speakers after the meeting: %v", labels)
	}
	if labels["Salle B"] {
		t.Errorf("some segments kept the undiarized label: %v", labels)
	}
	t.Logf("%d segments, speakers %v", len(doc.Segments), labels)
}

// TestTranscriptionConsent: nothing is transcribed while transcription is
// off; a participant who opted out is not transcribed and the transcript
// says so; a server without a speech engine refuses clearly.
func TestTranscriptionConsent(t *testing.T) {
	m, err := devset.Get("dev-s-en-01")
	if err != nil {
		t.Fatal(err)
	}
	opus := encodeStems(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startLiveServer(t, t.TempDir())

	obs, err := client.Connect(ctx, srv.URL(), client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Drop()
	joined, err := obs.Join(ctx, "consent-room", "Observer")
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		MeetingID string `json:"meeting_id"`
	}
	json.Unmarshal(joined.Raw, &j)
	speaker := func(name string) *client.Client {
		c, err := client.Connect(ctx, srv.URL(), client.Options{SendOnly: true, KeepMessages: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Drop() })
		if _, err := c.Join(ctx, "consent-room", name); err != nil {
			t.Fatal(err)
		}
		return c
	}
	play := func(c *client.Client, stem string, seconds int) *client.LocalTrack {
		pkts, err := client.LoadOggOpus(opus[stem])
		if err != nil {
			t.Fatal(err)
		}
		tr, err := c.PublishAudio(ctx, client.AudioOptions{Packets: pkts[:seconds*50]})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	captions := func() (n int, who map[string]bool) {
		who = map[string]bool{}
		for _, m := range obs.Messages() {
			if m.Type == "caption" {
				var c captionMsg
				json.Unmarshal(m.Raw, &c)
				if c.Text != "" {
					n++
					who[c.SpeakerName] = true
				}
			}
		}
		return n, who
	}

	// Transcription off: ruth speaks, nothing is recognised.
	ruth := speaker("ruth")
	tr := play(ruth, "ruth", 8)
	for !tr.Finished() {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if n, _ := captions(); n != 0 {
		t.Fatalf("%d captions while transcription was off", n)
	}
	if resp, err := http.Get(srv.URL() + "/api/meetings/" + j.MeetingID + "/transcript"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a transcript exists though transcription was never on: %v %v", resp.StatusCode, err)
	}

	// On, with ben opted out: only ruth is transcribed.
	ben := speaker("ben")
	ben.Send(map[string]any{"type": "transcription_opt_out", "opt_out": true})
	if _, err := obs.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "participant_updated" && m.Participant != nil && m.Participant.Name == "ben" && strings.Contains(string(m.Raw), `"transcription_opt_out":true`)
	}); err != nil {
		t.Fatalf("opt-out not announced: %v", err)
	}
	resp, err := http.Post(srv.URL()+"/api/rooms/consent-room/transcription", "application/json", strings.NewReader(`{"enabled":true}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("REST transcription on: %v %v", resp.StatusCode, err)
	}
	if _, err := ruth.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "transcription" && strings.Contains(string(m.Raw), `"enabled":true`)
	}); err != nil {
		t.Fatalf("participants not told transcription is on: %v", err)
	}
	trBen := play(ben, "ben", 16)
	ruth.Unpublish(ctx, tr)
	trRuth := play(ruth, "ruth", 8)
	for !trBen.Finished() || !trRuth.Finished() {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	n, who := captions()
	if n == 0 || !who["ruth"] {
		t.Fatalf("no captions of ruth (%d captions: %v)", n, who)
	}
	if who["ben"] {
		t.Fatal("ben opted out but was captioned")
	}
	var doc struct {
		Segments []struct {
			Speaker string `json:"speaker"`
		} `json:"segments"`
		Events []struct {
			Kind    string `json:"kind"`
			Speaker string `json:"speaker"`
		} `json:"events"`
	}
	json.Unmarshal(fetchTranscript(t, srv.URL(), j.MeetingID, "json"), &doc)
	optOut := false
	for _, e := range doc.Events {
		if e.Kind == "opt_out" && e.Speaker == "ben" {
			optOut = true
		}
	}
	if !optOut {
		t.Errorf("transcript does not say ben opted out: %+v", doc.Events)
	}
	for _, s := range doc.Segments {
		if s.Speaker == "ben" {
			t.Fatal("ben's speech is in the transcript")
		}
	}
	md := string(fetchTranscript(t, srv.URL(), j.MeetingID, "md"))
	if !strings.Contains(md, "ben") {
		t.Errorf("the Markdown transcript does not mention the opt-out:\n%s", md)
	}
}

func TestTranscriptionUnavailableWithoutEngine(t *testing.T) {
	cfg := config.Default()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.Media.UDPPort, cfg.Media.TCPPort, cfg.Media.ListenIP = 0, -1, "127.0.0.1"
	cfg.Media.ICEInterfaces = []string{"lo"}
	cfg.Speech.Engine = "none"
	srv, err := server.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, srv.URL(), client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Drop()
	m, err := c.Join(ctx, "quiet-room", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Raw), `"transcription_available":false`) {
		t.Errorf("joined does not say transcription is unavailable: %s", m.Raw)
	}
	c.Send(map[string]any{"type": "transcription", "enabled": true})
	if _, err := c.WaitFor(ctx, func(m client.Message) bool { return m.Type == "error" && m.Code == 4019 }); err != nil {
		t.Fatalf("no 4019 error: %v", err)
	}
	resp, err := http.Post(srv.URL()+"/api/rooms/quiet-room/transcription", "application/json", strings.NewReader(`{"enabled":true}`))
	if err != nil || resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("REST: %v %v", resp.StatusCode, err)
	}
}

// TestServerKilledMidMeetingLosesNoSegment runs `parley serve` as a child
// process, lets one participant speak with transcription on, kills the
// server with SIGKILL mid-meeting, reopens its store and finds every
// segment whose final caption had been sent.
func TestServerKilledMidMeetingLosesNoSegment(t *testing.T) {
	m, err := devset.Get("dev-r-en-01")
	if err != nil {
		t.Fatal(err)
	}
	opus := encodeStems(t, m)
	dataDir := t.TempDir()
	cmd := parley("serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--udp-port", "0", "--tcp-port", "-1",
		"--ice-interfaces", "lo", "--media-ip", "127.0.0.1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if mm := servingURL.FindStringSubmatch(sc.Text()); mm != nil {
				urlc <- mm[1]
			}
		}
	}()
	var base string
	select {
	case base = <-urlc:
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	obs, err := client.Connect(ctx, base, client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Drop()
	joined, err := obs.Join(ctx, "crash-room", "Observer")
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		MeetingID string `json:"meeting_id"`
	}
	json.Unmarshal(joined.Raw, &j)
	obs.Send(map[string]any{"type": "transcription", "enabled": true})
	spk, err := client.Connect(ctx, base, client.Options{SendOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer spk.Drop()
	if _, err := spk.Join(ctx, "crash-room", "bridge"); err != nil {
		t.Fatal(err)
	}
	pkts, err := client.LoadOggOpus(opus["bridge"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spk.PublishAudio(ctx, client.AudioOptions{Packets: pkts}); err != nil {
		t.Fatal(err)
	}
	finals := func() []string {
		var out []string
		for _, msg := range obs.Messages() {
			var c captionMsg
			if msg.Type == "caption" && json.Unmarshal(msg.Raw, &c) == nil && c.Final && c.Text != "" {
				out = append(out, c.Text)
			}
		}
		return out
	}
	for len(finals()) < 3 {
		if ctx.Err() != nil {
			t.Fatal("no final captions")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Kill while the next utterance is being spoken.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	sent := finals()
	db, err := store.OpenSQLite(ctx, dataDir)
	if err != nil {
		t.Fatalf("reopen the store after the crash: %v", err)
	}
	defer db.Close()
	segs, err := db.Segments(ctx, j.MeetingID)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, s := range segs {
		stored[s.Text] = true
	}
	for _, text := range sent {
		if !stored[text] {
			t.Errorf("final caption %q was sent but its segment is not in the store", text)
		}
	}
	t.Logf("%d final captions sent before the kill, %d segments in the reopened store", len(sent), len(segs))
}
