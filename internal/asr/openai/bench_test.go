package openai

import (
	"context"
	"net/http"
	"syscall"
	"testing"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// BenchmarkFakeServerRoundTrip measures what the openai engine costs the
// Parley process per second of speech: WAV encoding, the multipart request,
// HTTP over loopback and the JSON parse, against the in-process fake server
// (whose own request parsing is counted too, so this is an upper bound). A
// real server's recognition time is not measured: no GPU server here.
func BenchmarkFakeServerRoundTrip(b *testing.B) {
	_, srv := newFake(b, func(*http.Request, fakeReq) (int, string) { return 200, verboseTop })
	e, err := New(Config{BaseURL: srv.URL, Model: "m"})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	pcm := tone(5)
	ctx := context.Background()
	cpu0 := cpuSeconds()
	for b.Loop() {
		if _, err := run(ctx, e, pcm); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds()-cpu0)/(5*float64(b.N)), "cpu-s/audio-s")
}
