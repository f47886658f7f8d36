package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/devset"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
	"github.com/parleyhq/parley/internal/transcript"
)

// runBenchCaptions measures live captions under load: N participants
// speak at once (the dev set's English stems, Opus-encoded, played from
// the same instant; stems are reused when N is larger than their count)
// into an in-process server with the embedded recogniser; an observer
// records every caption. Latency is the time from the end of the
// reference speech region (the meeting's RTTM) to the final caption's
// arrival at the observer; when the VAD splits a region at a pause, the
// parts before the last are timed from their own last word. Every segment committed to the transcript must
// have reached the observer as a final caption: one that did not is
// reported, and the command fails.
func runBenchCaptions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-captions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	speakers := fs.Int("speakers", 10, "participants speaking at the same time")
	streams := fs.Int("asr-streams", 0, "recogniser pool size (default: one per speaker)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write the CPU profile of the talking part to this file")
	dense := fs.Bool("dense", false, "every participant talks for --talk: its stem's speech regions over and over, 0.8 s apart")
	talk := fs.Duration("talk", time.Minute, "with --dense: how long each participant talks")
	leadIn := fs.Duration("lead-in", 3*time.Second, "with --dense: silence before the first words, as after joining with the microphone on")
	wait := fs.Duration("wait", 30*time.Second, "after the speakers leave, how long to wait for the transcript and the last final captions")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if *speakers < 1 || *speakers > 50 {
		fmt.Fprintln(stderr, "--speakers: 1 to 50")
		return errUsage
	}
	if *streams == 0 {
		*streams = *speakers
	}
	type stem struct {
		name, opus string
		regions    [][2]float64 // reference speech regions (s)
	}
	var stems []stem
	tmp, err := os.MkdirTemp("", "parley-bench-captions")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ms, err := devset.Meetings()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Lang != "en" {
			continue
		}
		regions, err := readRTTM(m.RTTM)
		if err != nil {
			return err
		}
		for _, name := range m.Speakers() {
			src, rs := m.Stems[name], regions[name]
			if *dense {
				if src, rs, err = densify(src, rs, leadIn.Seconds(), talk.Seconds(), filepath.Join(tmp, m.ID+"-"+name+".wav")); err != nil {
					return err
				}
			}
			dst := filepath.Join(tmp, m.ID+"-"+name+".opus")
			if out, err := exec.CommandContext(ctx, "opusenc", "--quiet", "--framesize", "20", "--bitrate", "32", src, dst).CombinedOutput(); err != nil {
				return fmt.Errorf("opusenc (opus-tools): %v: %s", err, out)
			}
			stems = append(stems, stem{name: name, opus: dst, regions: rs})
		}
	}

	cfg := config.Default()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", filepath.Join(tmp, "data")
	cfg.Media.UDPPort, cfg.Media.TCPPort, cfg.Media.ListenIP = 0, -1, "127.0.0.1"
	cfg.Media.ICEInterfaces = []string{"lo"}
	cfg.Speech.Streams = *streams
	cfg.MetricsListen = "" // read in process; the default port may be taken
	srv, err := server.New(cfg, nil)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Shutdown(context.Background())
	cpu0 := processCPU()

	type caption struct {
		SpeakerID string  `json:"speaker_id"`
		Text      string  `json:"text"`
		Final     bool    `json:"final"`
		Start     float64 `json:"start"`
		End       float64 `json:"end"`
		at        time.Time
	}
	var mu sync.Mutex
	var captions []caption
	var started time.Time
	obs, err := client.Connect(ctx, srv.URL(), client.Options{KeepMessages: false, OnMessage: func(m client.Message) {
		switch m.Type {
		case "caption":
			var c caption
			if json.Unmarshal(m.Raw, &c) == nil && c.Final && c.Text != "" {
				c.at = time.Now()
				mu.Lock()
				captions = append(captions, c)
				mu.Unlock()
			}
		case "joined":
			var j struct {
				Started time.Time `json:"meeting_started"`
			}
			json.Unmarshal(m.Raw, &j)
			mu.Lock()
			started = j.Started
			mu.Unlock()
		}
	}})
	if err != nil {
		return err
	}
	defer obs.Drop()
	room := "bench-captions"
	if _, err := obs.Join(ctx, room, "Observer"); err != nil {
		return err
	}
	obs.Send(map[string]any{"type": "transcription", "enabled": true})

	pubs := make([]*client.Client, *speakers)
	tracks := make([]*client.LocalTrack, *speakers)
	used := make([]stem, *speakers)
	for i := range pubs {
		st := stems[i%len(stems)]
		used[i] = st
		pkts, err := client.LoadOggOpus(st.opus)
		if err != nil {
			return err
		}
		c, err := client.Connect(ctx, srv.URL(), client.Options{SendOnly: true})
		if err != nil {
			return err
		}
		defer c.Drop()
		if _, err := c.Join(ctx, room, fmt.Sprintf("%s %d", st.name, i+1)); err != nil {
			return err
		}
		if tracks[i], err = c.PublishAudio(ctx, client.AudioOptions{Packets: pkts, StartPaused: true}); err != nil {
			return err
		}
		pubs[i] = c
	}
	time.Sleep(time.Second)
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	t0 := time.Now()
	for _, t := range tracks {
		t.Pause(false)
	}
	fmt.Fprintf(stderr, "bench-captions: %d speakers talking\n", *speakers)
	for _, t := range tracks {
		for !t.Finished() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	// Speakers stay 3 s after their audio ends, as people do after
	// talking, so their last utterances end on the VAD's silence, not on
	// the track closing.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(3 * time.Second):
	}
	ids := map[string]int{}
	for i, c := range pubs {
		ids[c.ID()] = i
	}
	meeting := ""
	if r, ok := srv.Rooms.Room(room); ok {
		meeting = r.MeetingID()
	}
	ended := time.Now()
	for _, c := range pubs {
		c.Close()
	}
	// Once every speaker's transcript track has flushed, every segment is
	// committed; the observer stays until each one's final caption has
	// arrived, or until --wait has passed.
	deadline := ended.Add(*wait)
	for (srv.Rooms.Participants(room) > 1 || srv.Speech.Stats().Tracks > 0) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	complete := time.Since(ended)
	if srv.Speech.Stats().Tracks > 0 {
		return fmt.Errorf("speech tracks still open %v after the speakers left", *wait)
	}
	segs, err := srv.Store.Segments(ctx, meeting)
	if err != nil {
		return fmt.Errorf("committed segments: %w", err)
	}
	missing := func() []transcript.Segment {
		mu.Lock()
		defer mu.Unlock()
		var out []transcript.Segment
		for _, sg := range segs {
			if !slices.ContainsFunc(captions, func(c caption) bool {
				return c.SpeakerID == sg.SpeakerID && c.Text == sg.Text && c.Start == sg.Start && c.End == sg.End
			}) {
				out = append(out, sg)
			}
		}
		return out
	}
	for len(missing()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	lost := missing()
	obs.Close()
	for (srv.Rooms.Participants(room) > 0 || srv.Speech.Pending() > 0) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	offset := t0.Sub(started).Seconds() // meeting time of stem time 0
	// Each caption's reference region: the one it ends in, or the last
	// one before its end.
	type key struct{ speaker, region int }
	regionOf := make([]key, len(captions))
	lastEnd := map[key]float64{} // the latest caption end in each region
	for n, c := range captions {
		regionOf[n] = key{-1, -1}
		i, ok := ids[c.SpeakerID]
		if !ok {
			continue
		}
		for j, r := range used[i].regions {
			if r[0]+offset <= c.End+0.5 {
				regionOf[n] = key{i, j}
			}
		}
		if k := regionOf[n]; k.region >= 0 {
			lastEnd[k] = max(lastEnd[k], c.End)
		}
	}
	var lat []float64
	for n, c := range captions {
		k := regionOf[n]
		if k.region < 0 {
			continue
		}
		// Speech ended at the region's end, unless the VAD split the
		// region at a pause: then every part but the last ended at its
		// own last word.
		end := used[k.speaker].regions[k.region][1] + offset
		if c.End < lastEnd[k] {
			end = c.End
		}
		lat = append(lat, c.at.Sub(started).Seconds()-end)
		if os.Getenv("PARLEY_BENCH_DEBUG") != "" {
			fmt.Fprintf(stderr, "caption %-14s speech end %6.2f  caption %6.2f-%6.2f  arrived %6.2f  %q\n", used[k.speaker].name, end, c.Start, c.End, c.at.Sub(started).Seconds(), c.Text)
		}
	}
	sort.Float64s(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(p/100*float64(len(lat)-1))]
	}
	st := srv.Speech.Stats()
	res := map[string]any{
		"speakers": *speakers, "captions": len(lat),
		"captions_expected": len(segs), "captions_missing": len(lost),
		"latency_s_min": pct(0), "latency_s_p50": pct(50), "latency_s_p95": pct(95), "latency_s_max": pct(100),
		"audio_dropped_s": st.DroppedSeconds, "tap_dropped_packets": srv.SFU.Metrics().Snapshot().Drops["tap_full"],
		"transcript_complete_s": complete.Seconds(), "cpu_s": processCPU() - cpu0, "wall_s": time.Since(t0).Seconds(),
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "speakers %d, final captions %d\n", *speakers, len(lat))
		fmt.Fprintf(stdout, "committed segments %d, final captions missing %d\n", len(segs), len(lost))
		fmt.Fprintf(stdout, "caption latency after the end of speech: min %.2f s, p50 %.2f s, p95 %.2f s, max %.2f s\n", pct(0), pct(50), pct(95), pct(100))
		fmt.Fprintf(stdout, "audio dropped by the speech pipeline: %.1f s; packets dropped by taps: %d\n", st.DroppedSeconds, res["tap_dropped_packets"])
		fmt.Fprintf(stdout, "transcript complete %.2f s after the speakers left\n", complete.Seconds())
		fmt.Fprintf(stdout, "process CPU %.1f s over %.1f s (server, recogniser and all clients in one process)\n", res["cpu_s"], res["wall_s"])
	}
	for _, sg := range lost {
		fmt.Fprintf(stderr, "bench-captions: no final caption for %s %.2f-%.2f s %q\n", sg.Speaker, sg.Start, sg.End, sg.Text)
	}
	if len(lost) > 0 {
		return fmt.Errorf("%d of %d committed segments had no final caption within %v", len(lost), len(segs), *wait)
	}
	return nil
}

// densify writes to dst a track made of the stem's speech regions, each
// kept with 0.2 s either side and separated by 0.8 s of silence, repeated
// for talk seconds after lead seconds of silence, and returns dst with the
// regions on the new timeline.
func densify(src string, regions [][2]float64, lead, talk float64, dst string) (string, [][2]float64, error) {
	x, _, err := audiofile.ReadAll(src)
	if err != nil {
		return "", nil, err
	}
	if len(regions) == 0 {
		return "", nil, fmt.Errorf("%s: no speech in the reference", src)
	}
	const pad, gap = 0.2, 0.8
	at := func(t float64) int { return max(0, min(len(x), int(t*audiofile.Rate))) }
	silence := func(t float64) []float32 { return make([]float32, int(t*audiofile.Rate)) }
	out := silence(max(0, lead-gap))
	var rs [][2]float64
	for i := 0; float64(len(out))/audiofile.Rate < lead+talk; i++ {
		r := regions[i%len(regions)]
		out = append(out, silence(gap)...)
		begin := float64(len(out))/audiofile.Rate + pad
		out = append(out, x[at(r[0]-pad):at(r[1]+pad)]...)
		rs = append(rs, [2]float64{begin, begin + r[1] - r[0]})
	}
	out = append(out, silence(gap)...)
	return dst, rs, meetsynth.WriteWAV(dst, out)
}

// readRTTM returns each speaker's regions from an RTTM file.
func readRTTM(path string) (map[string][][2]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string][][2]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] != "SPEAKER" {
			continue
		}
		var start, dur float64
		fmt.Sscan(f[3], &start)
		fmt.Sscan(f[4], &dur)
		out[f[7]] = append(out[f[7]], [2]float64{start, start + dur})
	}
	return out, nil
}

func processCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
