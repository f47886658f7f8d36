package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/asr/engine"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/testkit/asrtest"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
	"github.com/parleyhq/parley/internal/transcript"
)

// longUpload writes a FLAC of minutes of audio: a spoken clip, then
// silence, over and over (a long meeting's recording, mostly quiet).
func longUpload(t *testing.T, dir string, minutes int) string {
	t.Helper()
	clip := append(asrtest.Load(t, asrtest.Clips[0]), asrtest.Silence(1)...)
	wav := filepath.Join(dir, "clip.wav")
	if err := meetsynth.WriteWAV(wav, clip); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, fmt.Sprintf("long-%d.flac", minutes))
	// Each minute: the clip, then silence to the minute.
	pad := 60 - float64(len(clip))/16000
	args := []string{wav, out, "pad", "0", fmt.Sprintf("%.3f", pad), "repeat", fmt.Sprint(minutes - 1)}
	if b, err := exec.Command("sox", args...).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, b)
	}
	return out
}

// peakHeap runs fn and returns the most live heap seen while it ran
// (collected and measured every 100 ms), above what was live before.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load() - min(base, peak.Load())
}

// TestUploadMemoryIsBounded: transcribing and diarizing an upload keeps
// its features, not its audio: a recording four times longer (8 → 32
// minutes) costs the job a few megabytes more at its peak, where holding
// the audio would cost 92 MB more (16 kHz float32). The 2-hour figure is
// a benchmark: docs/benchmarks.md.
func TestUploadMemoryIsBounded(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	eng, err := engine.New(engine.Config{Name: "pocketsphinx", Language: "en", Streams: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	u := &Uploads{Store: s, Dir: dir, Engine: eng}
	h := u.Handler()
	run := func(minutes int) (uint64, time.Duration) {
		path := longUpload(t, dir, minutes)
		id := fmt.Sprintf("MT_long%d", minutes)
		s.CreateMeeting(context.Background(), transcript.Meeting{ID: id, Started: time.Now()})
		payload, _ := json.Marshal(Upload{MeetingID: id, File: filepath.Base(path)})
		var res Result
		t0 := time.Now()
		peak := peakHeap(func() {
			res, err = h(context.Background(), store.Job{Payload: payload})
		})
		if err != nil || res.Write == nil {
			t.Fatalf("%d min: %v", minutes, err)
		}
		return peak, time.Since(t0)
	}
	// PARLEY_LONG_UPLOAD_MINUTES=120 measures a 2-hour recording (about
	// a minute of machine time), for docs/benchmarks.md.
	longMin := 32
	if v, err := strconv.Atoi(os.Getenv("PARLEY_LONG_UPLOAD_MINUTES")); err == nil && v > 8 {
		longMin = v
	}
	short, ts := run(8)
	long, tl := run(longMin)
	t.Logf("peak live heap above the start: %.1f MB for 8 min (%v), %.1f MB for %d min (%v)",
		float64(short)/1e6, ts.Round(time.Millisecond), float64(long)/1e6, longMin, tl.Round(time.Millisecond))
	// Holding the audio would add 3.84 MB a minute (16 kHz float32); the
	// features are about a tenth of that.
	if extra, limit := float64(long)-float64(short), float64(longMin-8)*3.84e6*0.4; extra > limit {
		t.Errorf("%d minutes took %.1f MB more than 8 at the peak (at most %.1f): the audio is held", longMin, extra/1e6, limit/1e6)
	}
}
