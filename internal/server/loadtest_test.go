package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/devset"
	"github.com/parleyhq/parley/internal/testkit/loadtest"
)

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
