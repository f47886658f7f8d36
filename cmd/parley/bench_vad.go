package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/audio/vad"
	"github.com/parleyhq/parley/internal/testkit/devset"
	"github.com/parleyhq/parley/internal/testkit/vadbench"
)

// runBenchVAD measures the voice activity detector on the dev set and
// prints Markdown tables: per-track DER (each stem through the near-field
// VAD, labelled with its speaker, scored by the shared der tool) and
// speech/non-speech frame accuracy with white and pink noise added.
func runBenchVAD(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-vad", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory for the hypothesis RTTM files (default: a temporary directory)")
	derBin := fs.String("der", "", "path of the der scorer (default: build it from the shared tools)")
	baseline := fs.Bool("baseline", true, "also score the −45 dBFS energy VAD the dev set README quotes")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	start := time.Now()
	ms, err := devset.Meetings()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "parley-bench-vad")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if *derBin == "" {
		if *derBin, err = vadbench.BuildDER(ctx, tmp); err != nil {
			return err
		}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(tmp, "hyp")
	}
	near := func(x []float32) []vad.Segment { return vad.Detect(x, vad.DefaultConfig()) }
	far := func(x []float32) []vad.Segment { return vad.Detect(x, vad.FarFieldConfig()) }
	energy := func(x []float32) []vad.Segment { return vadbench.EnergyBaseline(x, -45) }

	systems := []struct {
		name   string
		detect func([]float32) []vad.Segment
	}{{"vad (near-field)", near}}
	if *baseline {
		systems = append(systems, struct {
			name   string
			detect func([]float32) []vad.Segment
		}{"energy −45 dBFS", energy})
	}

	fmt.Fprintf(stdout, "## Per-track DER (dev set, speaker = track)\n\n")
	fmt.Fprintf(stdout, "| system | meeting | DER (collar 0.25) | missed s | false alarm s | DER (collar 0) |\n|---|---|---|---|---|---|\n")
	for _, sys := range systems {
		d := filepath.Join(dir, slug(sys.name))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		for _, m := range ms {
			var segs []vadbench.Labelled
			for _, spk := range m.Speakers() {
				x, err := readStem(m, spk)
				if err != nil {
					return err
				}
				for _, s := range sys.detect(x) {
					segs = append(segs, vadbench.Labelled{Segment: s, Speaker: spk})
				}
			}
			if err := vadbench.WriteRTTM(filepath.Join(d, m.ID+".rttm"), m.ID, segs); err != nil {
				return err
			}
		}
		c25, err := vadbench.ScoreDER(ctx, *derBin, d, 0.25)
		if err != nil {
			return err
		}
		c0, err := vadbench.ScoreDER(ctx, *derBin, d, 0)
		if err != nil {
			return err
		}
		for i, r := range c25 {
			fmt.Fprintf(stdout, "| %s | %s | %.2f %% | %.2f | %.2f | %.2f %% |\n", sys.name, r.File, 100*r.DER, r.Missed, r.FalseAlarm, 100*c0[i].DER)
		}
	}

	fmt.Fprintf(stdout, "\n## Frame accuracy (10 ms frames; noise added at the SNR of the speech)\n\n")
	fmt.Fprintf(stdout, "Near-field: each stem through DefaultConfig against its speaker's reference, frames pooled per meeting.\n")
	fmt.Fprintf(stdout, "Far-field: the mixed recording through FarFieldConfig against the union of all speakers.\n\n")
	fmt.Fprintf(stdout, "| condition | meeting | near-field acc | miss | FA | far-field acc | miss | FA | energy −45 dBFS near-field acc |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range vadbench.Conditions() {
		for _, m := range ms {
			n, err := vadbench.NearField(m, c, near)
			if err != nil {
				return err
			}
			f, err := vadbench.FarField(m, c, far)
			if err != nil {
				return err
			}
			e, err := vadbench.NearField(m, c, energy)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "| %s | %s | %.1f %% | %.1f %% | %.1f %% | %.1f %% | %.1f %% | %.1f %% | %.1f %% |\n",
				c, m.ID, 100*n.Acc, 100*n.Miss, 100*n.FA, 100*f.Acc, 100*f.Miss, 100*f.FA, 100*e.Acc)
		}
	}
	fmt.Fprintf(stdout, "\n(%s, %s/%s, %d CPUs, %.1f s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Since(start).Seconds())
	return nil
}

func readStem(m devset.Meeting, spk string) ([]float32, error) {
	x, _, err := audiofile.ReadAll(m.Stems[spk])
	return x, err
}

func slug(s string) string {
	b := []byte(s)
	out := b[:0]
	for _, c := range b {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			out = append(out, c)
		} else if len(out) > 0 && out[len(out)-1] != '-' {
			out = append(out, '-')
		}
	}
	return string(out)
}
