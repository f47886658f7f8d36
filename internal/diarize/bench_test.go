package diarize

import (
	"context"
	"os"
	"testing"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/testkit/devset"
)

// BenchmarkDiarizeFile diarizes $PARLEY_DIARIZE_BENCH_FILE (default: the
// dev set's dev-s-en-01 mix), streaming it from disk. The one-hour figures
// in docs/benchmarks-diarization.md come from `parley bench-diarize -hour`,
// which measures a separate process; this benchmark is for profiling:
//
//	PARLEY_DIARIZE_BENCH_FILE=hour.wav go test -run '^$' -bench DiarizeFile -benchtime 1x -cpuprofile cpu.out ./internal/diarize
func BenchmarkDiarizeFile(b *testing.B) {
	path := os.Getenv("PARLEY_DIARIZE_BENCH_FILE")
	if path == "" {
		ms, err := devset.Meetings()
		if err != nil {
			b.Skip(err)
		}
		path = ms[1].Mix
	}
	for b.Loop() {
		r, err := audiofile.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DiarizeSource(context.Background(), r, Options{}); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
