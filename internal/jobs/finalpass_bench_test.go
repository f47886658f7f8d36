package jobs

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/asr/engine"
	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/record"
	"github.com/parleyhq/parley/internal/testkit/devset"
	"github.com/parleyhq/parley/internal/transcript"
)

// BenchmarkFinalPass runs the final pass (pocketsphinx) over a recorded
// meeting: dev-s-en-01's four stems as Opus files, as the recorder
// writes them. It reports seconds of machine time per second of track
// audio ("rtf"); a one-hour meeting of 6 people is 6 track-hours, each
// mostly silence (docs/benchmarks.md).
//
//	go test ./internal/jobs -run '^$' -bench FinalPass -benchtime 3x
func BenchmarkFinalPass(b *testing.B) {
	m, err := devset.Get("dev-s-en-01")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	st := openStore(b, dir)
	disk := objects.Disk{Dir: filepath.Join(dir, "recordings")}
	eng, err := engine.New(engine.Config{Name: "pocketsphinx", Language: "en", Streams: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	const id = "MT_bench"
	ctx := context.Background()
	st.CreateMeeting(ctx, transcript.Meeting{ID: id, Started: time.Now()})
	st.AppendEvent(ctx, id, transcript.Event{At: 0, Kind: transcript.TranscriptionOn})
	man := record.Manifest{Version: 1, MeetingID: id, Complete: true}
	audioSeconds := 0.0
	for i, name := range m.Speakers() {
		file := name + ".ogg"
		os.MkdirAll(filepath.Join(disk.Dir, id), 0o750)
		if out, err := exec.Command("opusenc", "--quiet", "--framesize", "20", "--bitrate", "32", m.Stems[name], filepath.Join(disk.Dir, id, file)).CombinedOutput(); err != nil {
			b.Fatalf("opusenc: %v %s", err, out)
		}
		pcm, _, err := audiofile.ReadAll(filepath.Join(disk.Dir, id, file))
		if err != nil {
			b.Fatal(err)
		}
		dur := float64(len(pcm)) / audiofile.Rate
		audioSeconds += dur
		pid := "PA_" + name
		st.AppendSegment(ctx, id, transcript.Segment{SpeakerID: pid, Speaker: name, Start: 1, End: 2, Text: "live"})
		man.Files = append(man.Files, record.File{Name: file, Person: "P" + string(rune('1'+i)), ParticipantID: pid,
			ParticipantName: name, Kind: "audio", Source: "microphone", Codec: "audio/opus", Format: "ogg", Start: 0, End: dur})
	}
	buf, _ := json.Marshal(man)
	disk.Put(record.ManifestKey(id), buf)
	r := &Recordings{Objects: disk, Store: st, FinalEngine: eng}
	b.ResetTimer()
	t0 := time.Now()
	for range b.N {
		write, err := r.finalPass(ctx, id)
		if err != nil || write == nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(t0).Seconds() / float64(b.N)
	b.ReportMetric(elapsed/audioSeconds, "rtf")
	b.ReportMetric(elapsed, "s/meeting")
	b.ReportMetric(audioSeconds, "track-s")
}
