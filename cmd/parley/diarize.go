package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/diarize"
)

// runDiarize writes who spoke when in one audio file (WAV, FLAC,
// Ogg/Opus, MP3) as RTTM or JSON. Conversions the reader made (resampling,
// down-mixing) are reported on stderr.
func runDiarize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("diarize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: parley diarize [--speakers N | --min-speakers A --max-speakers B] [--format rttm|json] [--out FILE] FILE")
		fs.PrintDefaults()
	}
	speakers := fs.Int("speakers", 0, "exact number of speakers (0: estimate)")
	minSpk := fs.Int("min-speakers", 0, "at least this many speakers (0: no bound)")
	maxSpk := fs.Int("max-speakers", 0, "at most this many speakers (0: no bound)")
	format := fs.String("format", "rttm", "output format: rttm or json")
	out := fs.String("out", "", "write to this file instead of stdout")
	verbose := fs.Bool("v", false, "log the clustering decisions on stderr")
	cpuProfile := fs.String("cpuprofile", "", "write the CPU profile of the diarization to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	if *format != "rttm" && *format != "json" {
		fmt.Fprintf(stderr, "parley diarize: unknown format %q (rttm or json)\n", *format)
		return errUsage
	}
	opts := diarize.Options{Speakers: *speakers, MinSpeakers: *minSpk, MaxSpeakers: *maxSpk}
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(stderr, "parley diarize: %v\n", err)
		return errUsage
	}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	path := fs.Arg(0)
	r, err := audiofile.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	turns, err := diarize.DiarizeSource(ctx, r, opts)
	stopProfile()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, n := range r.Info().Notes {
		fmt.Fprintf(stderr, "parley diarize: %s: %s\n", path, n)
	}

	w := stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			return err
		}
		w = f
	}
	id := fileID(path)
	if *format == "json" {
		err = writeTurnsJSON(w, id, turns)
	} else {
		err = diarize.WriteRTTM(w, id, turns)
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// fileID is the RTTM file id of path: its base name without extension,
// white space replaced (RTTM fields are separated by white space).
func fileID(path string) string {
	base := filepath.Base(path)
	id := strings.TrimSuffix(base, filepath.Ext(base))
	if id == "" {
		id = base
	}
	return strings.Join(strings.Fields(id), "_")
}

func writeTurnsJSON(w io.Writer, id string, turns []diarize.Turn) error {
	type turn struct {
		Speaker string  `json:"speaker"`
		Start   float64 `json:"start"`
		End     float64 `json:"end"`
		Overlap bool    `json:"overlap,omitempty"`
	}
	doc := struct {
		File     string   `json:"file"`
		Speakers []string `json:"speakers"`
		Turns    []turn   `json:"turns"`
	}{File: id, Speakers: []string{}, Turns: []turn{}}
	seen := map[string]bool{}
	for _, t := range turns {
		if !seen[t.Speaker] {
			seen[t.Speaker] = true
			doc.Speakers = append(doc.Speakers, t.Speaker)
		}
		doc.Turns = append(doc.Turns, turn{t.Speaker, round3(t.Start), round3(t.End), t.Overlap})
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetIndent("", " ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return bw.Flush()
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
