package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/parleyhq/parley/internal/testkit/asrtest"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
	"github.com/parleyhq/parley/internal/testkit/natstest"
	"github.com/parleyhq/parley/internal/testkit/pgtest"
	"github.com/parleyhq/parley/internal/testkit/s3test"
)

// TestWorkerTranscribesUploads: a node that runs only its own jobs
// (--jobs local) takes an upload and keeps it in the S3 bucket, not on
// its disk; the job waits for a worker; `parley worker` (sharing the
// PostgreSQL database, the bucket and NATS) transcribes it, through a
// PostgreSQL restart in the middle of the job; the transcript is read
// from the node, whole and once; deleting the meeting removes the
// upload from the bucket; the worker stops cleanly on SIGTERM.
func TestWorkerTranscribesUploads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pg, err := pgtest.Start(ctx) // its own server: this test restarts it
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	dsn, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nc := natstest.Start(t, 1)
	s3 := s3test.Bucket(t, "parley")
	t.Setenv("PARLEY_S3_ACCESS_KEY", s3.AccessKey) // inherited by the processes
	t.Setenv("PARLEY_S3_SECRET_KEY", s3.SecretKey)
	bucket := []string{"--s3-endpoint", s3.Endpoint, "--s3-bucket", "parley", "--s3-insecure"}
	n := startNode(t, "node-a", nc.URLs()[0], dsn, append([]string{"--jobs", "local", "--asr-engine", "pocketsphinx"}, bucket...)...)

	// Twelve utterances, two voices, about 35 s: long enough to restart
	// PostgreSQL while it is recognised.
	var pcm []float32
	for range 4 {
		for _, c := range asrtest.Clips {
			pcm = append(append(pcm, asrtest.Load(t, c)...), asrtest.Silence(0.6)...)
		}
	}
	var wav bytes.Buffer
	path := filepath.Join(t.TempDir(), "council.wav")
	if err := meetsynth.WriteWAV(path, pcm); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	wav.Write(b)
	req, _ := http.NewRequest("POST", n.base+"/api/transcriptions?name=Council&speakers=2", &wav)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Parley-CSRF", workerCSRF)
	req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: workerCSRF})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		MeetingID string `json:"meeting_id"`
		Key       string `json:"key"`
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if json.Unmarshal(body, &up); resp.StatusCode != http.StatusAccepted || up.Key == "" {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	get := func(path string, v any) (int, error) {
		req, _ := http.NewRequest("GET", n.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+up.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(v)
	}
	var status struct{ State, Error string }
	statusNow := func() string {
		status.State = ""
		get("/api/transcriptions/"+up.MeetingID, &status)
		return status.State
	}

	// The upload is in the bucket, not on the node's disk.
	mc, err := s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	key := "uploads/" + up.MeetingID + "/audio"
	if st, err := mc.StatObject(ctx, "parley", key, minio.StatObjectOptions{}); err != nil || st.Size != int64(len(b)) {
		t.Fatalf("%s in the bucket: %+v %v (want %d bytes)", key, st, err, len(b))
	}
	if left, _ := filepath.Glob(filepath.Join(n.dir, "uploads", "*")); len(left) != 0 {
		t.Errorf("the node keeps %v", left)
	}
	// The node leaves it to a worker.
	time.Sleep(2 * time.Second)
	if s := statusNow(); s != "queued" {
		t.Fatalf("with --jobs local the node's upload is %q (%s), want queued", s, status.Error)
	}

	w := parley("worker", "--postgres", dsn, "--nats", nc.URLs()[0], "--data-dir", t.TempDir(), "--node-id", "worker-1",
		"--asr-engine", "pocketsphinx", "--s3-endpoint", s3.Endpoint, "--s3-bucket", "parley", "--s3-insecure")
	var werr bytes.Buffer
	w.Stderr = &werr
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Process.Kill()
	for deadline := time.Now().Add(30 * time.Second); statusNow() != "running"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not take the job (state %q); its log:\n%s", status.State, werr.String())
		}
	}
	restarted := time.Now()
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL restarted while the job ran (%.1f s)", time.Since(restarted).Seconds())
	for deadline := time.Now().Add(150 * time.Second); statusNow() != "done"; time.Sleep(250 * time.Millisecond) {
		if status.State == "dead" || time.Now().After(deadline) {
			t.Fatalf("the job is %q (%s); the worker's log:\n%s", status.State, status.Error, werr.String())
		}
	}
	t.Logf("transcribed %.0f s after the restart", time.Since(restarted).Seconds())
	if testing.Verbose() {
		t.Logf("the worker's log:\n%s", werr.String())
	}

	var tr struct {
		Segments []struct {
			SpeakerID string  `json:"speaker_id"`
			Start     float64 `json:"start"`
			Text      string  `json:"text"`
		} `json:"segments"`
	}
	if code, err := get("/api/meetings/"+up.MeetingID+"/transcript?format=json", &tr); code != http.StatusOK || err != nil {
		t.Fatalf("transcript: %d %v", code, err)
	}
	var text strings.Builder
	starts := map[string]bool{}
	for _, s := range tr.Segments {
		k := fmt.Sprintf("%s@%.2f", s.SpeakerID, s.Start)
		if starts[k] {
			t.Errorf("segment %s twice", k)
		}
		starts[k] = true
		text.WriteString(s.Text + " ")
	}
	if got := strings.Count(text.String(), "placed"); got < 3 || !strings.Contains(text.String(), "forward") {
		t.Errorf("transcript (%d segments): %q; want each utterance (\"placed\" 4 times, found %d)", len(tr.Segments), text.String(), got)
	}

	req, _ = http.NewRequest("DELETE", n.base+"/api/meetings/"+up.MeetingID, nil)
	req.Header.Set("Authorization", "Bearer "+up.Key)
	req.Header.Set("X-Parley-CSRF", workerCSRF)
	req.AddCookie(&http.Cookie{Name: "parley_csrf", Value: workerCSRF})
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %v %v", resp, err)
	}
	if _, err := mc.StatObject(ctx, "parley", key, minio.StatObjectOptions{}); minio.ToErrorResponse(err).StatusCode != http.StatusNotFound {
		t.Errorf("the upload outlived its meeting in the bucket: %v", err)
	}

	w.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- w.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("worker exit: %v\n%s", err, werr.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("the worker did not stop on SIGTERM")
	}
}

// workerCSRF is the CSRF token the test's requests carry (cookie and header).
const workerCSRF = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
