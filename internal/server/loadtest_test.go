package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/devset"
	"github.com/parleyhq/parley/internal/testkit/loadtest"
)

// TestLoadtestSmoke is the smoke run: 1 video + 1 audio
// publisher, 5 subscribers, 5 s, no track missing.
func TestLoadtestSmoke(t *testing.T) {
	srv := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := loadtest.Run(ctx, loadtest.Config{URL: srv.URL(), VideoPublishers: 1, AudioPublishers: 1, Subscribers: 5,
		Duration: 5 * time.Second, Settle: time.Second}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if rep.TracksExpected != 10 || rep.TracksReceived != 10 {
		t.Fatalf("tracks %d/%d, want 10/10", rep.TracksReceived, rep.TracksExpected)
	}
	if rep.PacketLossPct != 0 || rep.OutOfOrder != 0 {
		t.Errorf("loopback run lost %.3f %% and reordered %d packets", rep.PacketLossPct, rep.OutOfOrder)
	}
	if rep.PacketsReceived == 0 || rep.BitrateBps < 1e6 || rep.DelaySamples == 0 || rep.JoinMsP50 <= 0 {
		t.Fatalf("implausible report: %+v", rep)
	}
	if rep.Server == nil || rep.Server.PacketsForwarded < float64(rep.PacketsReceived)/2 || rep.Server.CPUMicrosPerPacket <= 0 {
		t.Fatalf("server figures missing: %+v", rep.Server)
	}
	b, _ := json.Marshal(rep)
	var keys map[string]any
	json.Unmarshal(b, &keys)
	for _, k := range []string{"tracks_expected", "tracks_received", "packets_received", "packet_loss_pct", "bitrate_bps",
		"join_ms_p50", "join_ms_p99", "delay_ms_p50", "delay_ms_p99"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON report lacks %s", k)
		}
	}
	t.Logf("loss %.3f%%, %.1f Mb/s, join p50 %.1f ms, delay p50 %.2f ms p99 %.2f ms, server %.1f µs/packet",
		rep.PacketLossPct, rep.BitrateBps/1e6, rep.JoinMsP50, rep.DelayMsP50, rep.DelayMsP99, rep.Server.CPUMicrosPerPacket)
}

// writeIVF writes a VP8 IVF file of n synthetic frames (a keyframe every
// 30) at 30 fps: a file source for the load tool.
func writeIVF(t *testing.T, path string, n int) {
	t.Helper()
	var b bytes.Buffer
	h := make([]byte, 32)
	copy(h, "DKIF")
	binary.LittleEndian.PutUint16(h[6:], 32)
	copy(h[8:], "VP80")
	binary.LittleEndian.PutUint16(h[12:], 640)
	binary.LittleEndian.PutUint16(h[14:], 360)
	binary.LittleEndian.PutUint32(h[16:], 30) // timebase 1/30
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint32(h[24:], uint32(n))
	b.Write(h)
	for i := 0; i < n; i++ {
		frame := make([]byte, 2000)
		frame[0] = 0x01 // inter frame
		if i%30 == 0 {
			frame[0] = 0x00 // key frame (RFC 6386 §9.1: bit 0 clear)
			frame = append(frame, make([]byte, 4000)...)
		}
		fh := make([]byte, 12)
		binary.LittleEndian.PutUint32(fh, uint32(len(frame)))
		binary.LittleEndian.PutUint64(fh[4:], uint64(i))
		b.Write(fh)
		b.Write(frame)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLoadtestFromFiles sends an Ogg/Opus file (a dev-set stem encoded
// with opusenc) and an IVF file instead of synthetic media.
func TestLoadtestFromFiles(t *testing.T) {
	srv := start(t)
	m, err := devset.Get("dev-s-en-01")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opus := filepath.Join(dir, "ben.opus")
	if out, err := exec.Command("opusenc", "--quiet", "--framesize", "20", m.Stems["ben"], opus).CombinedOutput(); err != nil {
		t.Fatalf("opusenc: %v %s", err, out)
	}
	ivf := filepath.Join(dir, "video.ivf")
	writeIVF(t, ivf, 90)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := loadtest.Run(ctx, loadtest.Config{URL: srv.URL(), VideoPublishers: 1, AudioPublishers: 1, Subscribers: 2,
		Duration: 2 * time.Second, Settle: time.Second, AudioFile: opus, VideoFile: ivf, NoSimulcast: true}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if rep.TracksReceived != 4 || rep.PacketsReceived == 0 {
		t.Fatalf("report: %+v", rep)
	}
	if _, err := loadtest.Run(ctx, loadtest.Config{URL: srv.URL(), AudioFile: ivf, Subscribers: 1}, io.Discard); err == nil {
		t.Fatal("an IVF file accepted as Ogg/Opus audio")
	}
}
