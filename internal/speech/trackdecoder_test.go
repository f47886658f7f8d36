package speech_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/parleyhq/parley/internal/audio"
	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/audio/ogg"
	"github.com/parleyhq/parley/internal/speech"
	"github.com/parleyhq/parley/internal/testkit/devset"
)

// opusClip encodes seconds of a dev-set stem with opusenc (20 ms frames,
// as browsers send) and returns the Opus packets, the Ogg/Opus file path and
// the original 16 kHz samples.
func opusClip(t testing.TB, speaker, start, dur string, extra ...string) ([][]byte, string, []float32) {
	t.Helper()
	m, err := devset.Get("dev-s-en-01")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wav := filepath.Join(dir, "x.wav")
	if out, err := exec.Command("sox", m.Stems[speaker], wav, "trim", start, dur).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, out)
	}
	opusPath := filepath.Join(dir, "x.opus")
	args := append([]string{"--quiet", "--framesize", "20"}, extra...)
	if out, err := exec.Command("opusenc", append(args, wav, opusPath)...).CombinedOutput(); err != nil {
		t.Fatalf("opusenc: %v %s", err, out)
	}
	orig, _, err := audiofile.ReadAll(wav)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(opusPath)
	if err != nil {
		t.Fatal(err)
	}
	r := ogg.NewReader(bytes.NewReader(b), 1<<16, nil)
	var pkts [][]byte
	for i := 0; ; i++ {
		p, err := r.Next()
		if err != nil {
			break
		}
		if i >= 2 { // OpusHead, OpusTags
			pkts = append(pkts, p.Data)
		}
	}
	return pkts, opusPath, orig
}

type arrival struct {
	pkt *rtp.Packet
	at  time.Time
}

// rtpStream packetises Opus packets as a browser would (20 ms apart) with
// network jitter up to jitter, and returns them in arrival order.
func rtpStream(pkts [][]byte, ssrc uint32, seq0 uint16, ts0 uint32, first time.Time, jitter time.Duration, rng *rand.Rand) []arrival {
	var out []arrival
	ts := ts0
	for i, p := range pkts {
		n, _ := audio.OpusPacketSamples(p)
		send := first.Add(time.Duration(i) * 20 * time.Millisecond)
		var j time.Duration
		if jitter > 0 && i > 0 { // the first packet anchors the track: on time
			j = time.Duration(rng.Int64N(int64(jitter)))
		}
		out = append(out, arrival{&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq0 + uint16(i),
			Timestamp: ts, SSRC: ssrc}, Payload: p}, send.Add(j)})
		ts += uint32(n)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].at.Before(out[b].at) })
	return out
}

// render lays chunks out on a 16 kHz timeline starting at base seconds.
func render(chunks []speech.Chunk, base float64, n int) []float32 {
	y := make([]float32, n)
	for _, c := range chunks {
		off := int(math.Round((c.Start - base) * 16000))
		for i, v := range c.PCM {
			if j := off + i; j >= 0 && j < n {
				y[j] = v
			}
		}
	}
	return y
}

// bestLag finds the shift of y against x (|lag| ≤ maxLag) with the highest
// correlation.
func bestLag(x, y []float32, maxLag int) int {
	best, bl := math.Inf(-1), 0
	for lag := -maxLag; lag <= maxLag; lag++ {
		var c float64
		for i := maxLag; i < len(x)-maxLag; i += 2 {
			if j := i + lag; j >= 0 && j < len(y) {
				c += float64(x[i]) * float64(y[j])
			}
		}
		if c > best {
			best, bl = c, lag
		}
	}
	return bl
}

// segSNR is the mean segmental SNR (20 ms segments, each clamped to
// [−10, 35] dB, silent reference segments skipped) of y shifted by lag.
func segSNR(x, y []float32, lag int) float64 {
	const seg = 320
	var sum float64
	var n int
	for s := 0; s+seg <= len(x); s += seg {
		var sp, e float64
		for i := s; i < s+seg; i++ {
			var v float64
			if j := i + lag; j >= 0 && j < len(y) {
				v = float64(y[j])
			}
			sp += float64(x[i]) * float64(x[i])
			e += (float64(x[i]) - v) * (float64(x[i]) - v)
		}
		if sp/seg < 1e-6 { // below −60 dBFS
			continue
		}
		sum += max(-10, min(35, 10*math.Log10(sp/(e+1e-20))))
		n++
	}
	return sum / float64(max(1, n))
}

func TestTrackDecoderMatchesOggReaderUnderReorder(t *testing.T) {
	pkts, opusPath, _ := opusClip(t, "ben", "8.5", "6")
	want, _, err := audiofile.ReadAll(opusPath)
	if err != nil {
		t.Fatal(err)
	}
	meeting := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	first := meeting.Add(3 * time.Second)
	rng := rand.New(rand.NewPCG(1, 1))
	// 50 ms of jitter (reorders 2-3 packets) and 5 % duplicates, no loss:
	// the output must be the Ogg reader's samples exactly, at 3 s.
	stream := rtpStream(pkts, 0xabc, 65500, 4294960000, first, 50*time.Millisecond, rng)
	var withDups []arrival
	for _, a := range stream {
		withDups = append(withDups, a)
		if rng.Float64() < 0.05 {
			withDups = append(withDups, arrival{a.pkt, a.at.Add(30 * time.Millisecond)})
		}
	}
	sort.SliceStable(withDups, func(a, b int) bool { return withDups[a].at.Before(withDups[b].at) })
	d, err := speech.NewTrackDecoder(meeting, 0)
	if err != nil {
		t.Fatal(err)
	}
	var chunks []speech.Chunk
	for _, a := range withDups {
		chunks = append(chunks, d.Push(a.pkt, a.at)...)
	}
	chunks = append(chunks, d.Flush()...)
	st := d.Stats()
	if st.Lost != 0 || st.Late != 0 || st.Duplicates == 0 || st.Decoded != len(pkts) {
		t.Errorf("stats %+v for %d packets", st, len(pkts))
	}
	if len(chunks) == 0 || math.Abs(chunks[0].Start-3) > 0.06 {
		t.Fatalf("first chunk at %v, want 3 s (plus jitter)", chunks)
	}
	// One continuous stretch of audio.
	for i := 1; i < len(chunks); i++ {
		if math.Abs(chunks[i].Start-chunks[i-1].End()) > 1e-6 {
			t.Fatalf("gap between chunk %d (end %.4f) and %d (start %.4f)", i-1, chunks[i-1].End(), i, chunks[i].Start)
		}
	}
	var got []float32
	for _, c := range chunks {
		got = append(got, c.PCM...)
	}
	// The Ogg reader drops the encoder's pre-skip (312 samples at 48 kHz);
	// RTP has no pre-skip, so the track has 104 more samples up front.
	const preSkip = 104
	if len(got) < len(want)+preSkip {
		t.Fatalf("%d samples, want ≥ %d", len(got), len(want)+preSkip)
	}
	for i := range want {
		if got[i+preSkip] != want[i] {
			t.Fatalf("sample %d: %g, Ogg reader %g", i, got[i+preSkip], want[i])
		}
	}
}

func TestTrackDecoderLossQuality(t *testing.T) {
	pkts, _, orig := opusClip(t, "ruth", "1", "8")
	meeting := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		loss   float64
		minSNR float64 // dB, measured value minus margin
	}{
		// Measured (segmental SNR against the original, 2026-11-27):
		// 0 %: 19.4 dB; 3 %: 17.1 dB; 10 %: 11.8 dB.
		{0, 18},
		{0.03, 15.5},
		{0.10, 10},
	} {
		rng := rand.New(rand.NewPCG(2, uint64(c.loss*1000)))
		stream := rtpStream(pkts, 7, 100, 5000, meeting.Add(time.Second), 30*time.Millisecond, rng)
		d, _ := speech.NewTrackDecoder(meeting, 0)
		var chunks []speech.Chunk
		for _, a := range stream {
			if rng.Float64() < c.loss {
				continue
			}
			chunks = append(chunks, d.Push(a.pkt, a.at)...)
			chunks = append(chunks, d.Tick(a.at)...)
		}
		chunks = append(chunks, d.Flush()...)
		y := render(chunks, chunks[0].Start, len(orig)+4000)
		lag := bestLag(orig, y, 800)
		snr := segSNR(orig, y, lag)
		t.Logf("loss %.0f %%: segmental SNR %.1f dB (lag %d, stats %+v)", 100*c.loss, snr, lag, d.Stats())
		if snr < c.minSNR {
			t.Errorf("loss %.0f %%: segmental SNR %.1f dB, want ≥ %.1f", 100*c.loss, snr, c.minSNR)
		}
	}
}

func TestTrackDecoderMuteRejoinAndDTX(t *testing.T) {
	pkts, _, _ := opusClip(t, "ben", "8.5", "2")
	meeting := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	d, _ := speech.NewTrackDecoder(meeting, 0)
	var chunks []speech.Chunk
	push := func(s []arrival) {
		for _, a := range s {
			chunks = append(chunks, d.Push(a.pkt, a.at)...)
			chunks = append(chunks, d.Tick(a.at)...)
		}
		chunks = append(chunks, d.Tick(s[len(s)-1].at.Add(time.Second))...)
	}
	// 1. Talk at 10 s.
	push(rtpStream(pkts, 1, 10, 1000, meeting.Add(10*time.Second), 0, nil))
	// 2. DTX: the same stream resumes 3 s later, timestamps advanced by
	// 3 s of silence, sequence numbers continuous.
	n := len(pkts)
	ts2 := uint32(1000 + n*960 + 3*48000)
	push(rtpStream(pkts, 1, uint16(10+n), ts2, meeting.Add(10*time.Second+time.Duration(n)*20*time.Millisecond+3*time.Second), 0, nil))
	// 3. Muted for 4 minutes with frozen timestamps, then the same SSRC
	// goes on as if no time had passed: arrival disagrees by minutes.
	ts3 := ts2 + uint32(n*960)
	at3 := meeting.Add(5 * time.Minute)
	push(rtpStream(pkts, 1, uint16(10+2*n), ts3, at3, 0, nil))
	// 4. Rejoin: a new SSRC with random sequence and timestamp at 7 min.
	at4 := meeting.Add(7 * time.Minute)
	push(rtpStream(pkts, 99, 40000, 123456789, at4, 0, nil))
	chunks = append(chunks, d.Flush()...)

	want := []float64{10, 10 + float64(n)*0.02 + 3, at3.Sub(meeting).Seconds(), at4.Sub(meeting).Seconds()}
	var starts []float64
	for i, c := range chunks {
		if i == 0 || math.Abs(c.Start-chunks[i-1].End()) > 0.001 {
			starts = append(starts, c.Start)
		}
	}
	if len(starts) != len(want) {
		t.Fatalf("talkspurts start at %v, want %v", starts, want)
	}
	for i := range want {
		if math.Abs(starts[i]-want[i]) > 0.01 {
			t.Errorf("talkspurt %d at %.3f s, want %.3f s", i, starts[i], want[i])
		}
	}
	if st := d.Stats(); st.Reanchors != 2 || st.Lost != 0 {
		t.Errorf("stats %+v, want 2 re-anchors (mute, rejoin) and no loss", st)
	}
}

func FuzzTrackDecoder(f *testing.F) {
	pkt := []byte{0x78, 0x01, 0x02, 0x03} // SILK WB 20 ms TOC + junk
	f.Add([]byte{0, 1, 0, 0, 0, 1, 10}, pkt)
	f.Add([]byte{5, 0, 3, 0, 9, 255, 200, 1, 0, 0}, []byte{0xfc, 0xff, 0xfe})
	f.Fuzz(func(t *testing.T, script, payload []byte) {
		// Each 7-byte step of script is one packet: SSRC choice, sequence
		// delta, timestamp delta (2 bytes), arrival delta ms, payload cut,
		// and whether to Tick.
		d, _ := speech.NewTrackDecoder(time.Unix(0, 0), 0)
		now := time.Unix(100, 0)
		var seq uint16
		var ts uint32
		last := -1.0
		check := func(cs []speech.Chunk) {
			for _, c := range cs {
				if c.Start < last-1e-9 {
					t.Fatalf("chunk at %g before previous end %g", c.Start, last)
				}
				for _, v := range c.PCM {
					if v != v || v > 1 || v < -1 {
						t.Fatalf("sample %g", v)
					}
				}
				last = c.End()
			}
		}
		for len(script) >= 7 {
			s := script[:7]
			script = script[7:]
			seq += uint16(int8(s[1]))
			ts += uint32(int16(uint16(s[2])<<8|uint16(s[3]))) * 10
			now = now.Add(time.Duration(s[4]) * time.Millisecond)
			p := payload[:min(len(payload), int(s[5]))]
			check(d.Push(&rtp.Packet{Header: rtp.Header{SSRC: uint32(s[0] % 3), SequenceNumber: seq, Timestamp: ts}, Payload: p}, now))
			if s[6]&1 == 1 {
				check(d.Tick(now))
			}
		}
		check(d.Flush())
	})
}

func BenchmarkTrackDecoder(b *testing.B) {
	pkts, _, _ := opusClip(b, "ruth", "1", "10")
	meeting := time.Now()
	stream := rtpStream(pkts, 1, 0, 0, meeting, 0, nil)
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		d, _ := speech.NewTrackDecoder(meeting, 0)
		for _, a := range stream {
			d.Push(a.pkt, a.at)
		}
		d.Flush()
	}
	// CPU µs per 20 ms packet and real-time factor (CPU time / audio
	// time): CPU time, since wall time on a shared machine is noisy.
	perPkt := float64((cpuTime() - cpu0).Microseconds()) / float64(b.N*len(pkts))
	b.ReportMetric(perPkt, "cpu-µs/packet")
	b.ReportMetric(perPkt/20000, "RTF")
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
