package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/leak"
)

// TestBenchCaptions runs a short `parley bench-captions` (three speakers
// talking for a few seconds into pocketsphinx) and checks what the
// benchmark promises: every segment committed to the transcript reached
// the observer as a final caption, and every latency is a real delay. It
// asserts no timing bound: the machine's load decides those. The command
// must leave no goroutine of ours or pion's running.
func TestBenchCaptions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a meeting with live transcription (~15 s)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before := leak.Take()
	var out, errb bytes.Buffer
	args := []string{"bench-captions", "--json", "--speakers", "3", "--dense", "--talk", "4s", "--lead-in", "1s", "--wait", "10s"}
	if code := run(ctx, args, &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	// The command shuts its server and clients down before returning.
	before.Check(t, 5*time.Second)
	var res struct {
		Speakers int     `json:"speakers"`
		Captions int     `json:"captions"`
		Expected int     `json:"captions_expected"`
		Missing  int     `json:"captions_missing"`
		Min      float64 `json:"latency_s_min"`
		P50      float64 `json:"latency_s_p50"`
		Max      float64 `json:"latency_s_max"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	t.Logf("%s", out.String())
	// Each speaker says several phrases in 4 s of dense speech.
	if res.Speakers != 3 || res.Expected < res.Speakers {
		t.Errorf("%d speakers, %d committed segments: want 3 speakers and a segment from each at least", res.Speakers, res.Expected)
	}
	if res.Missing != 0 || res.Captions != res.Expected {
		t.Errorf("%d final captions timed for %d committed segments, %d missing", res.Captions, res.Expected, res.Missing)
	}
	for name, v := range map[string]float64{"min": res.Min, "p50": res.P50, "max": res.Max} {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("latency %s %v s: want a positive, finite delay", name, v)
		}
	}
}
