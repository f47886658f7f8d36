package audiofile

import (
	"math"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMP3: a 1 s 440 Hz tone encoded by lame at 44.1 kHz stereo, with an
// ID3v2 tag in front, reads as 1 s of that tone at 16 kHz mono.
func TestMP3(t *testing.T) {
	dir := t.TempDir()
	wav, mp3 := filepath.Join(dir, "tone.wav"), filepath.Join(dir, "tone.mp3")
	sox(t, "-n", "-r", "44100", "-c", "2", wav, "synth", "1", "sine", "440", "vol", "0.5")
	if out, err := exec.Command("lame", "--quiet", "-b", "128", "--tt", "A title", "--ta", "Someone", "--add-id3v2", wav, mp3).CombinedOutput(); err != nil {
		t.Fatalf("lame: %v %s", err, out)
	}
	pcm, info, err := ReadAll(mp3)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "mp3" || info.SampleRate != 44100 || info.Channels != 2 {
		t.Fatalf("info %+v", info)
	}
	// lame pads the start and end by a frame or two (about 50 ms).
	if n := len(pcm); n < Rate || n > Rate*11/10 {
		t.Fatalf("%d samples, want about %d", n, Rate)
	}
	var sum float64
	crossings := 0
	mid := pcm[Rate/10 : Rate*9/10] // away from the padding
	for i, v := range mid {
		sum += float64(v) * float64(v)
		if i > 0 && (mid[i-1] < 0) != (v < 0) {
			crossings++
		}
	}
	rms := math.Sqrt(sum / float64(len(mid)))
	freq := float64(crossings) / 2 / (float64(len(mid)) / Rate)
	if math.Abs(rms-0.5/math.Sqrt2) > 0.03 || math.Abs(freq-440) > 5 {
		t.Fatalf("rms %.3f (want %.3f), frequency %.1f Hz (want 440)", rms, 0.5/math.Sqrt2, freq)
	}
}
