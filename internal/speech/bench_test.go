package speech_test

import (
	"context"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/asr/pocketsphinx"
	"github.com/parleyhq/parley/internal/speech"
	"github.com/parleyhq/parley/internal/testkit/asrtest"
	"github.com/parleyhq/parley/internal/testkit/devset"
	"github.com/parleyhq/parley/internal/transcript"
)

type latencySink struct {
	mu    sync.Mutex
	start time.Time
	lat   []float64 // final caption time − wall time of the utterance's end
}

func (s *latencySink) Caption(c speech.Caption) {
	if !c.Final || c.Text == "" {
		return
	}
	now := time.Since(s.start).Seconds()
	s.mu.Lock()
	s.lat = append(s.lat, now-c.End)
	s.mu.Unlock()
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

func cpu() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// BenchmarkLiveTracks plays PARLEY_BENCH_TRACKS tracks (default 4) of
// dense speech (the dev-s-en-01 mix, 85 % speech, each track offset by 7 s)
// into one Session in real time, 20 ms per write as the SFU's taps do, for
// PARLEY_BENCH_SECONDS (default 30). It reports the final-caption latency
// after the end of each utterance (p50/p95, which includes the VAD's
// end-of-speech decision, up to 0.6 s), the audio dropped because the
// recogniser fell behind (none here: a writer that falls behind simply
// runs late; in the server its tap drops), and CPU per second of track audio. Pin it to one
// core to find how many speaking tracks one core keeps up with:
//
//	PARLEY_BENCH_TRACKS=6 taskset -c 0 go test -run '^$' -bench LiveTracks -benchtime 1x ./internal/speech/
func BenchmarkLiveTracks(b *testing.B) {
	n := envInt("PARLEY_BENCH_TRACKS", 4)
	secs := envInt("PARLEY_BENCH_SECONDS", 30)
	m, err := devset.Get("dev-s-en-01")
	if err != nil {
		b.Fatal(err)
	}
	mix, err := asrtest.Sox(m.Mix, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := pocketsphinx.New(pocketsphinx.Config{Pool: n})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	for b.Loop() {
		sink := &latencySink{}
		mem := &transcript.Memory{}
		sess, err := speech.NewSession(speech.Config{Meeting: transcript.Meeting{ID: "bench"}, Engine: eng, Store: mem, Sink: sink})
		if err != nil {
			b.Fatal(err)
		}
		tracks := make([]*speech.Track, n)
		for i := range tracks {
			tracks[i], _ = sess.AddTrack(strconv.Itoa(i), strconv.Itoa(i))
		}
		const chunk = 320
		total := secs * 16000 / chunk
		cpu0 := cpu()
		sink.start = time.Now()
		// One writer per track, as each track has its own tap goroutine.
		var wg sync.WaitGroup
		for i, tr := range tracks {
			wg.Go(func() {
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for k := 0; k < total; k++ {
					<-tick.C
					off := (k*chunk + i*7*16000) % (len(mix) - chunk)
					tr.Write(float64(k*chunk)/16000, mix[off:off+chunk])
				}
			})
		}
		wg.Wait()
		closeStart := time.Now()
		if err := sess.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		complete := time.Since(closeStart).Seconds()
		used := cpu() - cpu0
		st := sess.Stats()
		sort.Float64s(sink.lat)
		q := func(p float64) float64 {
			if len(sink.lat) == 0 {
				return 0
			}
			return sink.lat[min(len(sink.lat)-1, int(p*float64(len(sink.lat))))]
		}
		b.ReportMetric(q(0.5), "p50-s")
		b.ReportMetric(q(0.95), "p95-s")
		b.ReportMetric(st.DroppedSeconds, "dropped-s")
		b.ReportMetric(used/float64(n*secs), "cpu-s/track-s")
		b.ReportMetric(complete, "close-s")
		b.ReportMetric(float64(len(sink.lat)), "finals")
	}
}
