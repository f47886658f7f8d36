package jobs

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/asr/engine"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/summary"
	"github.com/parleyhq/parley/internal/testkit/llmtest"
	"github.com/parleyhq/parley/internal/transcript"
)

// TestSummaryAfterTheMeeting: a meeting whose transcription ends gets a
// summary job (once), which waits while another job of the meeting is
// pending, then stores what the model wrote; a malformed answer twice
// fails the attempt (retried later) and stores nothing.
func TestSummaryAfterTheMeeting(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	llm := llmtest.Start(t)
	sums := &Summaries{Store: st, Client: &summary.Client{URL: llm.URL, Model: "m", Backoff: func(int) time.Duration { return time.Millisecond }}}
	const id = "MT_sum"
	st.CreateMeeting(ctx, transcript.Meeting{ID: id, Started: time.Now()})
	seg, _ := st.AppendSegment(ctx, id, transcript.Segment{SpeakerID: "a", Speaker: "Ada", Start: 1, End: 2, Text: "we close the meeting"})
	st.Enqueue(ctx, store.NewJob{Kind: KindFinalize, Key: FinalizeKey(id), Payload: Finalize{MeetingID: id}})

	f := &Finisher{Store: st, Summaries: sums}
	f.FinishMeeting(ctx, id, nil)
	f.FinishMeeting(ctx, id, nil) // transcription turned on and off again
	keys, _ := st.PendingJobKeys(ctx)
	if strings.Join(keys, ",") != FinalizeKey(id)+","+SummaryKey(id) {
		t.Fatalf("pending: %v", keys)
	}
	h := sums.Handler()
	job, _ := st.JobByKey(ctx, SummaryKey(id))
	if _, err := h(ctx, job); err == nil || !strings.Contains(err.Error(), "waiting for the meeting's job finalize:") {
		t.Fatalf("with finalize pending: %v", err)
	}
	if len(llm.Requests()) != 0 {
		t.Fatal("the model was asked before the transcript was final")
	}
	fin, _ := st.JobByKey(ctx, FinalizeKey(id))
	st.CancelJob(ctx, fin.ID)

	llm.Script(llmtest.Reply{Content: "no JSON here"}, llmtest.Reply{Content: "nor here"})
	if _, err := h(ctx, job); err == nil {
		t.Fatal("a malformed answer twice passed")
	}
	llm.Script(llmtest.Reply{Content: `{"summary": "Closed.", "decisions": [{"text": "close", "segments": [` + strconv.FormatInt(seg, 10) + `, 77]}], "actions": []}`})
	res, err := h(ctx, job)
	if err != nil || res.Write == nil {
		t.Fatalf("%v", err)
	}
	if err := st.InTx(ctx, res.Write); err != nil {
		t.Fatal(err)
	}
	got, err := st.Summary(ctx, id)
	if err != nil || got == nil || got.Text != "Closed." || got.Dropped != 1 || len(got.Decisions[0].Segments) != 1 {
		t.Fatalf("stored %+v %v", got, err)
	}
	if _, err := st.DeleteMeeting(ctx, id); err != nil {
		t.Fatalf("a summarised meeting is not deleted: %v", err)
	}
}

// TestUploadQueuesItsSummary: an upload's transcription, once written,
// queues the transcript's summary in the same transaction.
func TestUploadQueuesItsSummary(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	eng, err := engine.New(engine.Config{Name: "pocketsphinx", Language: "en", Streams: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	llm := llmtest.Start(t)
	u := &Uploads{Store: st, Dir: dir, Engine: eng, Summaries: &Summaries{Store: st, Client: &summary.Client{URL: llm.URL, Model: "m"}}}
	path := longUpload(t, dir, 1)
	const id = "MT_upsum"
	st.CreateMeeting(context.Background(), transcript.Meeting{ID: id, Started: time.Now()})
	payload, _ := json.Marshal(Upload{MeetingID: id, File: filepath.Base(path)})
	res, err := u.Handler()(context.Background(), store.Job{Payload: payload})
	if err != nil || res.Write == nil {
		t.Fatal(err)
	}
	if keys, _ := st.PendingJobKeys(context.Background()); len(keys) != 0 {
		t.Fatalf("queued before the transcript was written: %v", keys)
	}
	if err := st.InTx(context.Background(), res.Write); err != nil {
		t.Fatal(err)
	}
	if keys, _ := st.PendingJobKeys(context.Background()); strings.Join(keys, ",") != SummaryKey(id) {
		t.Fatalf("pending after the upload: %v", keys)
	}
	if len(llm.Requests()) != 0 {
		t.Fatal("the model was asked by the upload job itself")
	}
}
