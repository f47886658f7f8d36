package pocketsphinx

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/parleyhq/parley/internal/testkit/asrtest"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// threadCPU is this OS thread's CPU time (RUSAGE_THREAD = 1): with the
// goroutine locked to its thread, the cgo calls it makes run there too.
func threadCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func rssMB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkDecodeSpeech reports the CPU cost of recognising speech (all
// three clips, 100 ms writes, a partial after each as the live pipeline
// does every 500 ms: an upper bound) as cpu-s/audio-s: the real-time factor
// on one core. 1/RTF is how many speaking tracks one core keeps up with.
func BenchmarkDecodeSpeech(b *testing.B) {
	e, err := New(Config{Pool: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var clips [][]float32
	audio := 0.0
	for _, c := range asrtest.Clips {
		p := asrtest.Load(b, c)
		clips = append(clips, p)
		audio += float64(len(p)) / 16000
	}
	ctx := context.Background()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	final, finals := 0.0, 0
	for b.Loop() {
		for _, pcm := range clips {
			s, _ := e.NewStream(ctx, nil)
			for i := 0; i < len(pcm); i += 1600 {
				s.Write(ctx, pcm[i:min(i+1600, len(pcm))])
				s.Partial(ctx)
			}
			f0 := threadCPU()
			s.Final(ctx)
			final += threadCPU() - f0
			finals++
		}
	}
	rtf := (cpuSeconds() - cpu0) / (audio * float64(b.N))
	b.ReportMetric(rtf, "cpu-s/audio-s")
	b.ReportMetric(1/rtf, "tracks/core")
	// The CPU the final result costs after the last sample (the part of
	// caption latency that is the recogniser's).
	b.ReportMetric(1000*final/float64(finals), "final-cpu-ms")
}

// BenchmarkDecoderMemory reports the resident memory one more decoder
// costs (model load).
func BenchmarkDecoderMemory(b *testing.B) {
	e, err := New(Config{Pool: 8})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	before := rssMB()
	var streams []interface{ Close() error }
	for range 4 {
		s, err := e.NewStream(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		streams = append(streams, s)
	}
	after := rssMB()
	for _, s := range streams {
		s.Close()
	}
	for b.Loop() {
	}
	// The first stream reuses the decoder New loaded; 3 are new.
	b.ReportMetric((after-before)/3, "MB/decoder")
	b.ReportMetric(after, "MB-rss-4-decoders")
}
