package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parleyhq/parley/internal/diarize"
	"github.com/parleyhq/parley/internal/testkit/diarizebench"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
)

// runBenchDiarize measures the diarizer and prints Markdown tables: DER per
// meeting (collar 0.25 s and 0, missed / false alarm / confusion, estimated
// vs true speaker count) on the dev set's mixes, on the generated tuning
// meetings and on the generated held-out meetings, and per set the
// reference speech in overlapped stretches and how much of it is missed
// (collar 0); with -hour, the CPU time
// and peak memory of `parley diarize` on a one-hour meeting, measured on
// the child process (CPU from getrusage, peak memory from /proc), with GOMAXPROCS=1.
func runBenchDiarize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-diarize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory for hypothesis RTTM files (default: a temporary directory)")
	cache := fs.String("cache", "", "directory for the generated meetings (default: the user cache directory)")
	derBin := fs.String("der", "", "path of the der scorer (default: build it from the shared tools)")
	generated := fs.Bool("generated", true, "also score the generated tuning and held-out meetings (needs espeak-ng, flite, sox)")
	hour := fs.Bool("hour", false, "also time `parley diarize` on a one-hour meeting")
	hard := fs.Bool("hard", false, "also score the hard generated meetings (issue 13: French and English, 2–8 speakers, 1 min to 1 h, reverb, noise, Opus; first run renders them, ~10 min)")
	realVoices := fs.Bool("real", false, "also score the real-voice meetings (meetsynth.RealTest: Allison, June and Armelle's telephone prompts from Debian's Asterisk packages; scored only, never tuned on)")
	knownCount := fs.Bool("known-count", false, "give the diarizer each meeting's true speaker count (measures the clustering apart from the count estimate)")
	perturb := fs.Bool("perturb", false, "also score 5 perturbed copies of every meeting (dither, ±1 dB, 10 ms shift) and report how much each meeting's DER moves")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 0 {
		return errUsage
	}
	if *knownCount && *perturb {
		fmt.Fprintln(stderr, "bench-diarize: -known-count and -perturb measure different things; give one")
		return errUsage
	}
	start := time.Now()
	tmp, err := os.MkdirTemp("", "parley-bench-diarize")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if *derBin == "" {
		if *derBin, err = diarizebench.BuildDER(ctx, tmp); err != nil {
			return err
		}
	}
	hypRoot := *out
	if hypRoot == "" {
		hypRoot = filepath.Join(tmp, "hyp")
	}
	if *cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			d = os.TempDir()
		}
		*cache = filepath.Join(d, "parley", "diarize-bench")
	}

	dev, err := diarizebench.DevSet()
	if err != nil {
		return err
	}
	sets := []diarizebench.Set{dev}
	type genSet struct {
		name  string
		specs []meetsynth.Spec
	}
	var gen []genSet
	if *generated {
		gen = append(gen, genSet{"tune", meetsynth.Tune()}, genSet{"held-out", meetsynth.HeldOut()})
	}
	if *hard {
		gen = append(gen, genSet{"hard-tune", meetsynth.HardTune()}, genSet{"hard-test", meetsynth.HardTest()})
	}
	if *realVoices {
		if err := meetsynth.RealAvailable(); err != nil {
			return err
		}
		gen = append(gen, genSet{"real", meetsynth.RealTest()})
	}
	if len(gen) > 0 {
		if err := meetsynth.Available(); err != nil {
			return err
		}
	}
	for _, g := range gen {
		s, err := diarizebench.GeneratedSet(ctx, g.name, g.specs, filepath.Join(*cache, g.name))
		if err != nil {
			return err
		}
		sets = append(sets, s)
	}
	for _, s := range sets {
		hyp := filepath.Join(hypRoot, s.Name)
		diarizeSet := func() error { return diarizebench.Diarize(ctx, s, hyp, diarize.Options{}) }
		if *knownCount {
			diarizeSet = func() error { return diarizebench.DiarizeKnownCount(ctx, s, hyp) }
		}
		if err := diarizeSet(); err != nil {
			return err
		}
		if err := printDERTable(ctx, stdout, *derBin, s, hyp); err != nil {
			return err
		}
		if *perturb {
			if err := printStability(ctx, stdout, *derBin, s, hyp, filepath.Join(tmp, "perturbed", s.Name)); err != nil {
				return err
			}
		}
	}
	if *hour {
		if err := benchHour(ctx, stdout, *derBin, filepath.Join(*cache, "hour"), filepath.Join(hypRoot, "hour")); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\n(%s, %s/%s, %d CPUs, %.0f s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Since(start).Seconds())
	return nil
}

func printDERTable(ctx context.Context, w io.Writer, der string, s diarizebench.Set, hyp string) error {
	c25, err := diarizebench.Score(ctx, der, s, hyp, 0.25)
	if err != nil {
		return err
	}
	c0, err := diarizebench.Score(ctx, der, s, hyp, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n## %s\n\n", s.Name)
	fmt.Fprintf(w, "| meeting | DER (collar 0.25) | missed | false alarm | confusion | DER (collar 0) | missed | false alarm | confusion | speakers est/true |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|\n")
	pc := func(x, t float64) string { return fmt.Sprintf("%.1f %%", 100*x/t) }
	right, sum, over := 0, 0.0, 0
	lang := map[string][]float64{}
	for i, r := range c25 {
		z := c0[i]
		spk := fmt.Sprintf("%d/%d", r.HypSpeakers, r.RefSpeakers)
		if r.File == "TOTAL" {
			spk = fmt.Sprintf("%d of %d right", right, len(c25)-1)
		} else {
			sum += r.DER()
			if r.DER() > 0.15 {
				over++
			}
			for _, l := range []string{"en", "fr"} {
				if strings.Contains(r.File, "-"+l+"-") {
					lang[l] = append(lang[l], r.DER())
				}
			}
			if r.HypSpeakers == r.RefSpeakers {
				right++
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.File,
			pc(r.Missed+r.FalseAlarm+r.Confusion, r.Total), pc(r.Missed, r.Total), pc(r.FalseAlarm, r.Total), pc(r.Confusion, r.Total),
			pc(z.Missed+z.FalseAlarm+z.Confusion, z.Total), pc(z.Missed, z.Total), pc(z.FalseAlarm, z.Total), pc(z.Confusion, z.Total), spk)
	}
	fmt.Fprintf(w, "\nMean of the per-meeting DERs (collar 0.25): %.1f %%; TOTAL is time-weighted. Meetings above 15 %%: %d of %d.\n", 100*sum/float64(len(c25)-1), over, len(c25)-1)
	if len(lang["en"]) > 0 && len(lang["fr"]) > 0 {
		mean := func(x []float64) float64 {
			s := 0.0
			for _, v := range x {
				s += v
			}
			return 100 * s / float64(len(x))
		}
		fmt.Fprintf(w, "Mean DER of the French meetings %.1f %% (%d), of the English ones %.1f %% (%d).\n", mean(lang["fr"]), len(lang["fr"]), mean(lang["en"]), len(lang["en"]))
	}
	return printOverlap(ctx, w, der, s, hyp, c0[len(c0)-1])
}

// printOverlap prints what the stretches with two or more reference
// speakers contribute, at collar 0 (the collar would hide most of them):
// the reference speech there (each speaker counted), how much of it is
// missed, and the false alarm and confusion outside them (what labelling
// a second speaker where there is none costs).
func printOverlap(ctx context.Context, w io.Writer, der string, s diarizebench.Set, hyp string, all diarizebench.Result) error {
	res, err := diarizebench.ScoreOutsideOverlap(ctx, der, s, hyp, 0)
	if err != nil {
		return err
	}
	out := res[len(res)-1]
	over := all.Total - out.Total
	if over <= 0 {
		return nil
	}
	fmt.Fprintf(w, "Overlap (collar 0): %.1f s of reference speech in overlapped stretches, %.1f s of it missed (%.1f %%); outside them false alarm %.2f %%, confusion %.2f %%.\n",
		over, all.Missed-out.Missed, 100*(all.Missed-out.Missed)/over, 100*out.FalseAlarm/out.Total, 100*out.Confusion/out.Total)
	return nil
}

// printStability diarizes and scores each perturbed copy of s (in dir)
// and prints each meeting's DER (collar 0.25) on the original and on each
// copy, and the spread: the most it moves.
func printStability(ctx context.Context, w io.Writer, der string, s diarizebench.Set, hyp, dir string) error {
	orig, err := diarizebench.Score(ctx, der, s, hyp, 0.25)
	if err != nil {
		return err
	}
	ders := map[string][]float64{}
	for _, r := range orig {
		ders[r.File] = []float64{r.DER()}
	}
	for _, p := range diarizebench.Perturbations {
		ps, err := diarizebench.Perturb(s, p, filepath.Join(dir, p.Name))
		if err != nil {
			return err
		}
		ph := filepath.Join(dir, p.Name, "hyp")
		if err := diarizebench.Diarize(ctx, ps, ph, diarize.Options{}); err != nil {
			return err
		}
		res, err := diarizebench.Score(ctx, der, ps, ph, 0.25)
		if err != nil {
			return err
		}
		for _, r := range res {
			ders[r.File] = append(ders[r.File], r.DER())
		}
	}
	fmt.Fprintf(w, "\n### %s: DER (collar 0.25) on perturbed copies\n\n| meeting | original |", s.Name)
	for _, p := range diarizebench.Perturbations {
		fmt.Fprintf(w, " %s |", p.Name)
	}
	fmt.Fprintf(w, " spread |\n|---|---|%s---|\n", strings.Repeat("---|", len(diarizebench.Perturbations)))
	unstable := 0
	for _, r := range orig {
		d := ders[r.File]
		lo, hi := d[0], d[0]
		fmt.Fprintf(w, "| %s |", r.File)
		for _, x := range d {
			lo, hi = min(lo, x), max(hi, x)
			fmt.Fprintf(w, " %.1f %% |", 100*x)
		}
		fmt.Fprintf(w, " %.1f |\n", 100*(hi-lo))
		if r.File != "TOTAL" && hi-lo >= 0.02 {
			unstable++
		}
	}
	fmt.Fprintf(w, "\nMeetings whose DER moves by 2 points or more: %d of %d.\n", unstable, len(orig)-1)
	return nil
}

// benchHour runs `parley diarize` on the one-hour meeting in a child
// process and reports its CPU time and peak resident memory.
func benchHour(ctx context.Context, w io.Writer, der, dir, hyp string) error {
	s, err := diarizebench.HourFile(ctx, dir, 3600)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(hyp, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, "diarize", "-out", filepath.Join(hyp, "hour.rttm"), s.Audio["hour"])
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	wall := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	// Peak memory: the child's VmHWM, polled until it exits. getrusage's
	// ru_maxrss is no use here: Linux carries the parent's peak across
	// fork and exec, so a child of this (larger) process reports ours.
	hwm := make(chan int64, 1)
	done := make(chan struct{})
	go func() {
		var peak int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := vmHWM(cmd.Process.Pid); kb > peak {
				peak = kb
			}
			select {
			case <-done:
				hwm <- peak
				return
			case <-t.C:
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	peakKB := <-hwm
	if err != nil {
		return fmt.Errorf("parley diarize on the hour file: %w", err)
	}
	elapsed := time.Since(wall)
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return errors.New("no rusage for the child process")
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fi, err := os.Stat(s.Audio["hour"])
	if err != nil {
		return err
	}
	audio := float64(fi.Size()-44) / 2 / 16000
	res, err := diarizebench.Score(ctx, der, s, hyp, 0.25)
	if err != nil {
		return err
	}
	r := res[0]
	fmt.Fprintf(w, "\n## one hour\n\n")
	fmt.Fprintf(w, "| audio | CPU (user+sys, GOMAXPROCS=1) | real-time factor | wall | peak RSS | DER (collar 0.25) | speakers est/true |\n|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(w, "| %.0f s | %.1f s | %.4f | %.1f s | %.0f MB | %.1f %% | %d/%d |\n", audio, cpu.Seconds(), cpu.Seconds()/audio,
		elapsed.Seconds(), float64(peakKB)/1024, 100*r.DER(), r.HypSpeakers, r.RefSpeakers)
	return nil
}

// vmHWM returns the peak resident set size of process pid in kB (Linux
// /proc/<pid>/status), or 0 when it cannot be read.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}
