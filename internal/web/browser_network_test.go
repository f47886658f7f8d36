package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/netlab"
)

// rxStats is what __rx (testdata/instrument.js) reports of one track.
type rxStats struct {
	PacketsReceived int64   `json:"packetsReceived"`
	PacketsLost     int64   `json:"packetsLost"`
	NACKs           int64   `json:"nackCount"`
	PLIs            int64   `json:"pliCount"`
	Concealed       int64   `json:"concealedSamples"`
	Samples         int64   `json:"totalSamplesReceived"`
	FEC             int64   `json:"fecPacketsReceived"`
	FramesDecoded   int64   `json:"framesDecoded"`
	FrameWidth      int     `json:"frameWidth"`
	Freezes         int64   `json:"freezeCount"`
	FreezeSeconds   float64 `json:"totalFreezesDuration"`
	FramesPerSecond float64 `json:"framesPerSecond"`
	BytesReceived   int64   `json:"bytesReceived"`
	Codec           string  `json:"codec"`
}

type rxPair struct {
	Audio, Video *rxStats
}

func (b *browser) rx(t testing.TB, participantID string) rxPair {
	t.Helper()
	var p rxPair
	if err := json.Unmarshal(evalJS[[]byte](t, b, "__rx("+jsString(participantID)+")"), &p); err != nil {
		t.Fatal(err)
	}
	if p.Audio == nil || p.Video == nil {
		t.Fatalf("%s: no audio or video statistics for %s: %+v", b.name, participantID, p)
	}
	return p
}

// networkQuality is what a receiver saw of a sender over a window.
type networkQuality struct {
	Concealment            float64 // share of audio samples concealed
	AudioLoss, VideoLoss   float64 // share of packets lost after repair
	Freezes                int64
	FreezeSeconds          float64
	FPS                    float64
	Width                  int
	VideoNACKs, AudioNACKs int64
	PLIs                   int64
}

func quality(a, b rxPair, window time.Duration) networkQuality {
	loss := func(x, y *rxStats) float64 {
		got, lost := y.PacketsReceived-x.PacketsReceived, y.PacketsLost-x.PacketsLost
		if got+lost <= 0 {
			return 0
		}
		return float64(lost) / float64(got+lost)
	}
	q := networkQuality{AudioLoss: loss(a.Audio, b.Audio), VideoLoss: loss(a.Video, b.Video),
		Freezes: b.Video.Freezes - a.Video.Freezes, FreezeSeconds: b.Video.FreezeSeconds - a.Video.FreezeSeconds,
		FPS: float64(b.Video.FramesDecoded-a.Video.FramesDecoded) / window.Seconds(), Width: b.Video.FrameWidth,
		VideoNACKs: b.Video.NACKs - a.Video.NACKs, AudioNACKs: b.Audio.NACKs - a.Audio.NACKs, PLIs: b.Video.PLIs - a.Video.PLIs}
	if n := b.Audio.Samples - a.Audio.Samples; n > 0 {
		q.Concealment = float64(b.Audio.Concealed-a.Audio.Concealed) / float64(n)
	}
	return q
}

func (q networkQuality) String() string {
	return fmt.Sprintf("audio: %.2f %% concealed, %.2f %% lost after repair, %d NACKs; video: %.2f %% lost after repair, %d NACKs, %d PLIs, %d freezes (%.2f s), %.1f frames/s, %d px wide",
		100*q.Concealment, 100*q.AudioLoss, q.AudioNACKs, 100*q.VideoLoss, q.VideoNACKs, q.PLIs, q.Freezes, q.FreezeSeconds, q.FPS, q.Width)
}

// sendingJS describes what a browser sends: each simulcast layer's
// width, bytes, frames per second and limitation, and its estimate of
// the uplink; and the layer it last asked the server for.
const sendingJS = `(async () => { const out = []; for (const pc of __pcs) { (await pc.getStats()).forEach(s => {
	if (s.type === 'outbound-rtp' && s.kind === 'video') out.push((s.rid || '-') + ' ' + (s.frameWidth || 0) + 'px ' + Math.round(s.bytesSent / 1000) + 'kB ' + (s.framesPerSecond || 0) + 'fps ' + (s.qualityLimitationReason || '') + ' nacks=' + s.nackCount + ' resent=' + s.retransmittedPacketsSent);
	if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) out.push('uplink estimate ' + Math.round(s.availableOutgoingBitrate / 1000) + ' kb/s');
	if (s.type === 'candidate-pair' && s.nominated && s.availableIncomingBitrate) out.push('downlink estimate ' + Math.round(s.availableIncomingBitrate / 1000) + ' kb/s'); }); }
	const m = __sent.filter(m => m.type === 'subscription').pop(); out.push('asked ' + (m ? m.layer : 'none')); return out.join(' | '); })()`

// lossyMeeting puts two Chromium participants, each in a network
// namespace of its own behind a link impaired as preset says, in one
// meeting on a server on the lab's address; it returns what each saw
// of the other over window once both play.
func lossyMeeting(t *testing.T, preset string, window time.Duration) (adaSawBob, bobSawAda networkQuality) {
	p, ok := netlab.PresetByName(preset)
	if !ok {
		t.Fatalf("no preset %s", preset)
	}
	lab, err := netlab.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lab.Close)
	srv, _ := startServerWith(t, func(c *config.Config) {
		c.Listen = lab.ServerIP + ":0"
		c.Media.ListenIP = lab.ServerIP
		c.Media.ICEInterfaces = []string{lab.Iface}
	})
	origin := srv.URL()
	roomURL := origin + "/lossy-network-meeting"
	var bs [2]*browser
	for i, name := range []string{"Ada", "Bob"} {
		k, err := lab.AddLink(p.Up, p.Down)
		if err != nil {
			t.Fatal(err)
		}
		bs[i] = newBrowser(t, name, browserOptions{audio: speechWAV(t, i), netns: k.NS.Name, secureOrigin: origin})
	}
	ada, bob := bs[0], bs[1]
	adaID := join(t, ada, roomURL, "Ada Lossy")
	bobID := join(t, bob, roomURL, "Bob Lossy")
	seesPlaying(t, bob, adaID, "Ada Lossy")
	seesPlaying(t, ada, bobID, "Bob Lossy")
	a0, b0 := ada.rx(t, bobID), bob.rx(t, adaID)
	time.Sleep(window)
	a1, b1 := ada.rx(t, bobID), bob.rx(t, adaID)
	for _, b := range bs {
		t.Logf("%s sends: %s", b.name, evalJS[string](t, b, sendingJS))
	}
	if mfs, err := srv.Registry.Gather(); err == nil {
		var l []string
		for _, mf := range mfs {
			if n := mf.GetName(); strings.HasPrefix(n, "parley_pli") || strings.HasPrefix(n, "parley_rtp_packets_dropped") || strings.HasPrefix(n, "parley_nack") || strings.HasPrefix(n, "parley_rtp_retrans") {
				for _, m := range mf.GetMetric() {
					if v := m.GetCounter().GetValue(); v > 0 {
						l = append(l, fmt.Sprintf("%s%v=%.0f", n, m.GetLabel(), v))
					}
				}
			}
		}
		t.Logf("server: %s", strings.Join(l, " "))
	}
	return quality(a0, a1, window), quality(b0, b1, window)
}

// TestChromiumOnALossyNetwork: two Chromium participants, each behind a
// link losing 2 % each way with 100 ms of round trip and ±20 ms jitter
// (user-space netem, internal/testkit/netlab; needs root, as CI runs),
// meet for 20 s. Each hears and sees the other with little concealed
// audio, repaired video loss, and on the layer its tile asks for (640
// px): Chrome's delay-based estimate reads the jitter as congestion
// (300–500 kb/s on a link carrying 3 Mb/s), and believed alone it held
// both on the lowest layer (320 px) with 4–10 s of freezes from layer
// changes. The figures of longer runs are the benchmark's
// (docs/benchmarks.md); these bounds are what a short run on a busy
// machine can hold.
func TestChromiumOnALossyNetwork(t *testing.T) {
	adaSaw, bobSaw := lossyMeeting(t, "loss2", 20*time.Second)
	t.Logf("Ada saw Bob: %v", adaSaw)
	t.Logf("Bob saw Ada: %v", bobSaw)
	for who, q := range map[string]networkQuality{"Ada": adaSaw, "Bob": bobSaw} {
		if q.Concealment > 0.06 {
			t.Errorf("%s: %.2f %% of audio concealed: want under 6 %%", who, 100*q.Concealment)
		}
		if q.VideoNACKs == 0 || q.VideoLoss > 0.02 {
			t.Errorf("%s: video %.2f %% lost after %d NACKs: want it repaired (under 2 %%)", who, 100*q.VideoLoss, q.VideoNACKs)
		}
		if q.FreezeSeconds > 4 || q.FPS < 10 {
			t.Errorf("%s: video froze %.2f s in 20 s, %.1f frames/s: want under 4 s and at least 10 frames/s", who, q.FreezeSeconds, q.FPS)
		}
		if q.Width < 640 {
			t.Errorf("%s: received %d px wide: want the 640 px layer the tile asks for (random loss and jitter are no congestion)", who, q.Width)
		}
	}
}
