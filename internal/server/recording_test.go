package server

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/record"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
	"github.com/parleyhq/parley/internal/testkit/s3test"
)

// toneOpus writes a 3 s Opus file (20 ms packets, as a browser sends)
// that is silent but for a 300 ms 600 Hz tone starting at `at`, and
// returns its packets.
func toneOpus(t *testing.T, dir string, at time.Duration) [][]byte {
	t.Helper()
	const rate = 16000
	pcm := make([]float32, 3*rate)
	from := int(at.Seconds() * rate)
	for i := from; i < from+rate*3/10; i++ {
		pcm[i] = 0.5 * float32(math.Sin(2*math.Pi*600*float64(i)/rate))
	}
	wav := filepath.Join(dir, fmt.Sprintf("tone-%d.wav", at.Milliseconds()))
	if err := meetsynth.WriteWAV(wav, pcm); err != nil {
		t.Fatal(err)
	}
	opus := strings.TrimSuffix(wav, ".wav") + ".opus"
	if out, err := exec.Command("opusenc", "--quiet", "--framesize", "20", "--bitrate", "32", wav, opus).CombinedOutput(); err != nil {
		t.Fatalf("opusenc: %v %s", err, out)
	}
	pkts, err := client.LoadOggOpus(opus)
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

// toneOnset decodes a recorded Ogg/Opus file and returns where (seconds
// into the file) its first tone starts: the first 5 ms window louder
// than a quarter of the loudest.
func toneOnset(t *testing.T, path string) (onset, length float64) {
	t.Helper()
	pcm, info, err := audiofile.ReadAll(path)
	if err != nil {
		t.Fatalf("%s does not decode: %v", filepath.Base(path), err)
	}
	const win = audiofile.Rate / 200
	var rms []float64
	peak := 0.0
	for i := 0; i+win <= len(pcm); i += win {
		s := 0.0
		for _, v := range pcm[i : i+win] {
			s += float64(v) * float64(v)
		}
		r := math.Sqrt(s / win)
		rms = append(rms, r)
		peak = max(peak, r)
	}
	if peak < 0.05 {
		t.Fatalf("%s: no tone (peak %.3f, notes %v)", filepath.Base(path), peak, info.Notes)
	}
	for i, r := range rms {
		if r > peak/4 {
			return float64(i) * 0.005, float64(len(pcm)) / audiofile.Rate
		}
	}
	return -1, 0
}

// TestRecordingMeeting records a meeting of three pion clients publishing
// tones at known times (and one of them video): only the moderator may
// start it, everyone is told, newcomers too; each participant's audio is
// an Ogg/Opus file that decodes, whose offset on the meeting clock puts
// the tones where they were sent within 40 ms; the camera is an IVF of
// whole VP8 frames from a keyframe; a mute and a reconnection are gaps
// in the manifest; the moderator downloads it all as one ZIP (a
// participant cannot), and deleting the meeting deletes the files.
//
// On local disk and in an S3 bucket (s3test: a real S3-compatible server).
func TestRecordingMeeting(t *testing.T) {
	t.Run("disk", func(t *testing.T) { testRecordingMeeting(t, start(t)) })
	t.Run("s3", func(t *testing.T) {
		s3 := s3test.Bucket(t, "parley-recordings")
		testRecordingMeeting(t, start(t, func(c *config.Config) {
			c.S3Endpoint, c.S3Bucket, c.S3Insecure = s3.Endpoint, "parley-recordings", true
			c.S3AccessKey, c.S3SecretKey = s3.AccessKey, s3.SecretKey
		}))
	})
}

// localCopy copies an object to a file, for readers that want one.
func localCopy(t *testing.T, st objects.Store, key string) string {
	t.Helper()
	rd, err := st.Open(key)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	p := filepath.Join(t.TempDir(), filepath.Base(key))
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, rd); err != nil {
		t.Fatal(err)
	}
	return p
}

func testRecordingMeeting(t *testing.T, srv *Server) {
	ctx := ctxT(t, 90*time.Second)
	const roomID = "recording-test-room"
	dir := t.TempDir()
	tones := map[string]time.Duration{"Ada": 1000 * time.Millisecond, "Bob": 1500 * time.Millisecond, "Cleo": 2000 * time.Millisecond}

	ada, adaJoined := joinAs(t, srv, roomID, "Ada")
	bob, _ := joinAs(t, srv, roomID, "Bob")
	cleoBrowser := client.NewHTTP(srv.URL())
	connectCleo := func() (*client.Client, client.Message) {
		c, err := client.Connect(ctx, srv.URL(), client.Options{KeepMessages: true, HTTP: cleoBrowser})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Drop() })
		m, err := c.Join(ctx, roomID, "Cleo")
		if err != nil {
			t.Fatal(err)
		}
		return c, m
	}
	cleo, _ := connectCleo()

	// Only a moderator records.
	from := sendRaw(t, bob, `{"type":"recording","enabled":true}`)
	if code := errorCode(t, bob, from); code != 4040 {
		t.Fatalf("a participant started the recording: code %d", code)
	}
	if err := ada.Send(map[string]any{"type": "recording", "enabled": true}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client.Client{"Ada": ada, "Bob": bob, "Cleo": cleo} {
		if _, err := c.WaitFor(ctx, func(m client.Message) bool {
			return m.Type == "recording" && strings.Contains(string(m.Raw), `"enabled":true`) && strings.Contains(string(m.Raw), `"by_name":"Ada"`)
		}); err != nil {
			t.Fatalf("%s was not told the meeting is recorded: %v", name, err)
		}
	}
	dan, danJoined := joinAs(t, srv, roomID, "Dan")
	if !strings.Contains(string(danJoined.Raw), `"recording":{"enabled":true`) {
		t.Fatalf("a newcomer was not told on joining that the meeting is recorded: %s", danJoined.Raw)
	}

	// Three microphones start on one timeline; Ada's camera too.
	var mics []*client.LocalTrack
	for _, who := range []struct {
		name string
		c    *client.Client
	}{{"Ada", ada}, {"Bob", bob}, {"Cleo", cleo}} {
		tr, err := who.c.PublishAudio(ctx, client.AudioOptions{Packets: toneOpus(t, dir, tones[who.name]), Loop: true, StartPaused: true})
		if err != nil {
			t.Fatal(err)
		}
		mics = append(mics, tr)
	}
	if _, err := ada.PublishVideo(ctx, client.VideoOptions{}); err != nil {
		t.Fatal(err)
	}
	meetingStart := meetingStarted(t, danJoined)
	t0 := time.Now()
	for _, m := range mics {
		m.Pause(false) // a track exists on the server once its media flows
	}
	sentAt := t0.Sub(meetingStart).Seconds()
	waitUntil(t, 10*time.Second, "the microphones published", func() bool {
		return mics[0].ServerID() != "" && mics[1].ServerID() != "" && mics[2].ServerID() != ""
	})

	// Bob mutes for a second; Cleo's connection drops and she comes back.
	time.Sleep(3500 * time.Millisecond)
	bob.Mute(mics[1], true)
	time.Sleep(time.Second)
	bob.Mute(mics[1], false)
	time.Sleep(500 * time.Millisecond)
	cleo.Drop()
	waitUntil(t, 10*time.Second, "Cleo to leave", func() bool { return srv.Rooms.Participants(roomID) == 3 })
	time.Sleep(500 * time.Millisecond)
	cleo2, _ := connectCleo()
	if _, err := cleo2.PublishAudio(ctx, client.AudioOptions{Packets: toneOpus(t, dir, tones["Cleo"]), Loop: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)

	// Downloading while it records is refused.
	get := func(key string) (int, []byte) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/api/meetings/"+adaJoined.MeetingID+"/recording", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, body := get(adaJoined.MeetingKey); code != http.StatusConflict {
		t.Fatalf("download during the recording: %d %s", code, body)
	}
	ada.Send(map[string]any{"type": "recording", "enabled": false})
	if _, err := bob.WaitFor(ctx, func(m client.Message) bool {
		return m.Type == "recording" && strings.Contains(string(m.Raw), `"enabled":false`)
	}); err != nil {
		t.Fatalf("Bob was not told the recording stopped: %v", err)
	}

	st := srv.retention.Recordings.Objects
	if _, onS3 := st.(*objects.S3); onS3 != (srv.cfg.S3Endpoint != "") {
		t.Fatalf("recordings kept in %T", st)
	}
	man, err := record.ReadManifest(st, adaJoined.MeetingID)
	if err != nil {
		t.Fatal(err)
	}
	if !man.Complete || len(man.Sessions) != 1 || man.Sessions[0].By != adaJoined.ParticipantID || man.Sessions[0].End == nil {
		t.Fatalf("manifest sessions: complete=%t %+v", man.Complete, man.Sessions)
	}
	people := map[string]string{} // key → name
	for _, p := range man.People {
		people[p.Key] = p.Name
	}
	byName := map[string][]record.File{}
	for _, f := range man.Files {
		byName[people[f.Person]+"/"+f.Source] = append(byName[people[f.Person]+"/"+f.Source], f)
		if f.Open || f.Bytes == 0 {
			t.Errorf("file %s: open=%t bytes=%d", f.Name, f.Open, f.Bytes)
		}
	}
	if len(byName["Cleo/microphone"]) != 2 || len(byName["Ada/microphone"]) != 1 || len(byName["Bob/microphone"]) != 1 || len(byName["Ada/camera"]) != 1 {
		t.Fatalf("files by person: %+v", man.Files)
	}
	// The tones, placed by each file's offset, are where they were sent.
	var sent []float64
	for _, name := range []string{"Ada", "Bob", "Cleo"} {
		f := byName[name+"/microphone"][0]
		onset, length := toneOnset(t, localCopy(t, st, man.MeetingID+"/"+f.Name))
		at := f.Start + onset - tones[name].Seconds()
		t.Logf("%s: file %s starts at %.3f s, tone at +%.3f s: sent at %.3f s on the meeting clock (the test saw %.3f s); %.2f s of audio, manifest %.3f–%.3f",
			name, f.Name, f.Start, onset, at, sentAt, length, f.Start, f.End)
		sent = append(sent, at)
		if math.Abs(length-(f.End-f.Start)) > 0.1 {
			t.Errorf("%s: %.3f s decoded, the manifest says %.3f s", name, length, f.End-f.Start)
		}
	}
	for i := 1; i < len(sent); i++ {
		if d := math.Abs(sent[i] - sent[0]); d > 0.040 {
			t.Errorf("tones sent together are %.0f ms apart in the recording", d*1000)
		}
	}
	if d := math.Abs(sent[0] - sentAt); d > 0.1 {
		t.Errorf("the recording puts the start %.0f ms away from when the test sent it", d*1000)
	}
	// Bob's audio is continuous over the mute: his file spans it.
	bf := byName["Bob/microphone"][0]
	gaps := map[string]record.Gap{}
	for _, g := range man.Gaps {
		gaps[people[g.Person]+"/"+g.Reason] = g
	}
	if g, ok := gaps["Bob/mute"]; !ok || g.File != bf.Name || g.To-g.From < 0.8 || g.To-g.From > 1.5 {
		t.Errorf("Bob's mute: %+v (gaps %+v)", g, man.Gaps)
	}
	if g, ok := gaps["Cleo/reconnect"]; !ok || g.To-g.From < 0.4 || g.From < byName["Cleo/microphone"][0].Start {
		t.Errorf("Cleo's reconnection: %+v (gaps %+v)", g, man.Gaps)
	}
	if bf.End-bf.Start < 5 {
		t.Errorf("Bob's file covers %.2f s: the mute is not filled", bf.End-bf.Start)
	}
	// The camera: whole VP8 frames, the first a keyframe.
	cam := byName["Ada/camera"][0]
	frames, _, err := client.LoadIVF(localCopy(t, st, man.MeetingID+"/"+cam.Name))
	if err != nil || len(frames) < 30 {
		t.Fatalf("camera: %d frames, %v", len(frames), err)
	}
	if frames[0][0]&1 != 0 {
		t.Error("the camera file does not start with a keyframe")
	}

	// The moderator downloads it all; a participant cannot.
	if code, _ := get(""); code != http.StatusNotFound {
		t.Errorf("an outsider's download: %d", code)
	}
	code, body := get(adaJoined.MeetingKey)
	if code != http.StatusOK {
		t.Fatalf("download: %d %s", code, body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	inZip := map[string]int64{}
	for _, f := range zr.File {
		inZip[f.Name] = int64(f.UncompressedSize64)
	}
	for _, f := range man.Files {
		if inZip[f.Name] != f.Bytes {
			t.Errorf("zip has %s with %d bytes, the manifest %d", f.Name, inZip[f.Name], f.Bytes)
		}
	}
	if _, ok := inZip["manifest.json"]; !ok {
		t.Error("zip without manifest")
	}

	// Deleting the meeting deletes the recording.
	for _, c := range []*client.Client{ada, bob, cleo2, dan} {
		c.Close()
	}
	waitUntil(t, 10*time.Second, "the room to close", func() bool {
		_, live := srv.Rooms.Room(roomID)
		return !live
	})
	req, _ := http.NewRequest("DELETE", srv.URL()+"/api/meetings/"+man.MeetingID, nil)
	req.Header.Set("X-Parley-CSRF", csrf)
	req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: csrf})
	req.Header.Set("Authorization", "Bearer "+adaJoined.MeetingKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if l, err := st.List(man.MeetingID); err != nil || len(l) != 0 {
		t.Errorf("the recording is still kept: %v %v", l, err)
	}
}

// meetingStarted reads meeting_started from a joined message.
func meetingStarted(t *testing.T, m client.Message) time.Time {
	t.Helper()
	var v struct {
		MeetingStarted time.Time `json:"meeting_started"`
	}
	if err := json.Unmarshal(m.Raw, &v); err != nil || v.MeetingStarted.IsZero() {
		t.Fatalf("joined without meeting_started: %v %s", err, m.Raw)
	}
	return v.MeetingStarted
}
