package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/pgtest"
	"github.com/parleyhq/parley/internal/transcript"
)

func open(t *testing.T, dir string) *DB {
	t.Helper()
	s, err := OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// eachStore runs f on a fresh SQLite database and on a fresh PostgreSQL
// one (pgtest); reopen opens a handle on it, closed at the test's end.
func eachStore(t *testing.T, f func(t *testing.T, reopen func() *DB)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		f(t, func() *DB {
			s := open(t, dir)
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Database(t)
		f(t, func() *DB {
			s, err := OpenPostgres(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

func TestMain(m *testing.M) { pgtest.Main(m) }

func seg(spk string, start float64, text string) transcript.Segment {
	return transcript.Segment{SpeakerID: "id-" + spk, Speaker: spk, Start: start, End: start + 1, Text: text,
		Words: []transcript.Word{{Word: text, Start: start, End: start + 1}}}
}

func TestTranscriptRoundTrip(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		ctx := context.Background()
		s := reopen()
		started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := s.CreateMeeting(ctx, transcript.Meeting{ID: "m1", Title: "Standup", Started: started}); err != nil {
			t.Fatal(err)
		}
		for _, sp := range []transcript.Speaker{{ID: "id-bob", Name: "Bob"}, {ID: "id-ada", Name: "Ada"}, {ID: "id-bob", Name: "Bob B."}} {
			if err := s.PutSpeaker(ctx, "m1", sp); err != nil {
				t.Fatal(err)
			}
		}
		// Appended out of order and overlapping: read back on the timeline.
		for _, g := range []transcript.Segment{seg("bob", 5, "later"), seg("ada", 1, "first"), seg("bob", 1.5, "overlap")} {
			if _, err := s.AppendSegment(ctx, "m1", g); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AppendEvent(ctx, "m1", transcript.Event{At: 0, Kind: transcript.TranscriptionOn}); err != nil {
			t.Fatal(err)
		}
		tr, err := s.Transcript(ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		if tr.Meeting.Title != "Standup" || !tr.Meeting.Started.Equal(started) {
			t.Errorf("meeting %+v", tr.Meeting)
		}
		if len(tr.Speakers) != 2 || tr.Speakers[0].Name != "Bob B." || tr.Speakers[1].Name != "Ada" {
			t.Errorf("speakers %+v", tr.Speakers)
		}
		var texts []string
		for _, g := range tr.Segments {
			texts = append(texts, g.Text)
		}
		if fmt.Sprint(texts) != "[first overlap later]" {
			t.Errorf("segments %v", texts)
		}
		if w := tr.Segments[1].Words; len(w) != 1 || w[0].Word != "overlap" || w[0].Start != 1.5 {
			t.Errorf("words %+v", w)
		}
		if len(tr.Events) != 1 || tr.Events[0].Kind != transcript.TranscriptionOn {
			t.Errorf("events %+v", tr.Events)
		}
	})
}

func TestErrors(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		ctx := context.Background()
		s := reopen()
		if _, err := s.Transcript(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing meeting: %v", err)
		}
		if _, err := s.AppendSegment(ctx, "nope", seg("a", 0, "x")); !errors.Is(err, ErrNotFound) {
			t.Errorf("segment of missing meeting: %v", err)
		}
		s.CreateMeeting(ctx, transcript.Meeting{ID: "m"})
		if _, err := s.AppendSegment(ctx, "m", seg("a", math.NaN(), "x")); !errors.Is(err, ErrInvalid) {
			t.Errorf("NaN start: %v", err)
		}
		if err := s.CreateMeeting(ctx, transcript.Meeting{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("empty id: %v", err)
		}
		s.Close()
		if _, err := s.AppendSegment(ctx, "m", seg("a", 0, "x")); !errors.Is(err, ErrClosed) {
			t.Errorf("after close: %v", err)
		}
	})
}

// TestAbandonedHandle leaves the writer's handle open (never closed, never
// checkpointed, as when a server is torn down without flushing) and reads
// the data through a fresh handle.
func TestAbandonedHandle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := open(t, dir)
	w.CreateMeeting(ctx, transcript.Meeting{ID: "m"})
	for i := range 50 {
		if _, err := w.AppendSegment(ctx, "m", seg("a", float64(i), strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	r := open(t, dir)
	defer r.Close()
	segs, err := r.Segments(ctx, "m")
	if err != nil || len(segs) != 50 {
		t.Fatalf("%d segments, %v", len(segs), err)
	}
	w.Close()
}

// TestKilledWriterLosesNothing runs a writer in a child process, SIGKILLs it
// mid-meeting, reopens the database and checks that every segment the child
// reported as committed is there.
func TestKilledWriterLosesNothing(t *testing.T) {
	if dir := os.Getenv("PARLEY_STORE_CHILD"); dir != "" {
		childWriter(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterLosesNothing$")
	cmd.Env = append(os.Environ(), "PARLEY_STORE_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	committed := map[string]bool{}
	for sc.Scan() && len(committed) < 40 {
		committed[sc.Text()] = true
	}
	cmd.Process.Kill() // SIGKILL: no deferred Close, no checkpoint
	cmd.Wait()
	if len(committed) < 40 {
		t.Fatalf("child committed only %d segments", len(committed))
	}
	s := open(t, dir)
	defer s.Close()
	segs, err := s.Segments(context.Background(), "m")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, g := range segs {
		have[g.Text] = true
	}
	for k := range committed {
		if !have[k] {
			t.Errorf("committed segment %s lost", k)
		}
	}
	t.Logf("%d reported committed, %d found after kill", len(committed), len(segs))
}

func childWriter(dir string) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, dir)
	if err != nil {
		os.Exit(3)
	}
	s.CreateMeeting(ctx, transcript.Meeting{ID: "m"})
	for i := 0; ; i++ { // runs until killed
		if _, err := s.AppendSegment(ctx, "m", seg("a", float64(i), strconv.Itoa(i))); err != nil {
			os.Exit(4)
		}
		fmt.Println(i)
	}
}

func TestReplaceSegments(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		ctx := context.Background()
		s := reopen()
		if err := s.CreateMeeting(ctx, transcript.Meeting{ID: "m1"}); err != nil {
			t.Fatal(err)
		}
		for _, sg := range []transcript.Segment{seg("room", 1, "one"), seg("room", 5, "two"), seg("ada", 6, "mine"), seg("room", 20, "later")} {
			if _, err := s.AppendSegment(ctx, "m1", sg); err != nil {
				t.Fatal(err)
			}
		}
		repl := []transcript.Segment{
			{SpeakerID: "id-room#1", Speaker: "room · speaker 1", Start: 1, End: 2, Text: "one"},
			{SpeakerID: "id-room#2", Speaker: "room · speaker 2", Start: 5, End: 6, Text: "two"},
		}
		if err := s.ReplaceSegments(ctx, "m1", "id-room", 0, 10, repl); err != nil {
			t.Fatal(err)
		}
		got, err := s.Segments(ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range got {
			names = append(names, g.Speaker+":"+g.Text)
		}
		want := "room · speaker 1:one,room · speaker 2:two,ada:mine,room:later"
		if fmt.Sprint(strings.Join(names, ",")) != want {
			t.Fatalf("segments after replace: %v, want %s", names, want)
		}
		bad := []transcript.Segment{{SpeakerID: "x", Start: math.NaN()}}
		if err := s.ReplaceSegments(ctx, "m1", "id-ada", 0, 10, bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("NaN segment: %v", err)
		}
		if got2, _ := s.Segments(ctx, "m1"); len(got2) != len(got) {
			t.Fatal("a failed replace changed the transcript")
		}
	})
}

// TestConcurrentReadThenWrite: transactions that read before they write,
// from several goroutines at once (a meeting deleted while its finalize
// job writes), all succeed: they wait their turn instead of failing with
// SQLITE_BUSY.
func TestConcurrentReadThenWrite(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		ctx := context.Background()
		s := reopen()
		if err := s.CreateMeeting(ctx, transcript.Meeting{ID: "m1", Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
		const workers, rounds = 4, 25
		errs := make(chan error, workers*rounds)
		for w := range workers {
			go func() {
				for i := range rounds {
					errs <- s.InTx(ctx, func(tx *Tx) error {
						if _, err := tx.Segments("m1"); err != nil {
							return err
						}
						return tx.AppendEvent("m1", transcript.Event{At: float64(i), Kind: "joined", SpeakerID: fmt.Sprint(w), Speaker: "W"})
					})
				}
			}()
		}
		for range workers * rounds {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		tr, err := s.Transcript(ctx, "m1")
		if err != nil || len(tr.Events) != workers*rounds {
			t.Fatalf("events written: %v (want %d)", err, workers*rounds)
		}
	})
}
