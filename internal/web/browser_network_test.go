package web_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/testkit/netlab"
	"github.com/parleyhq/parley/internal/testkit/tlscert"
)

// rxStats is what __rx (testdata/instrument.js) reports of one track.
type rxStats struct {
	PacketsReceived int64   `json:"packetsReceived"`
	PacketsLost     int64   `json:"packetsLost"`
	Retransmitted   int64   `json:"retransmitted"` // repairs received as RTX, which packetsLost counts as lost
	NACKs           int64   `json:"nackCount"`
	PLIs            int64   `json:"pliCount"`
	Concealed       int64   `json:"concealedSamples"`
	Concealments    int64   `json:"concealmentEvents"` // stretches of concealed audio
	Samples         int64   `json:"totalSamplesReceived"`
	FEC             int64   `json:"fecPacketsReceived"`
	FramesDecoded   int64   `json:"framesDecoded"`
	FrameWidth      int     `json:"frameWidth"`
	Freezes         int64   `json:"freezeCount"`
	FreezeSeconds   float64 `json:"totalFreezesDuration"`
	FramesPerSecond float64 `json:"framesPerSecond"`
	BytesReceived   int64   `json:"bytesReceived"`
	Codec           string  `json:"codec"`
	BufferSeconds   float64 `json:"jitterBufferDelay"` // summed over what left the buffer
	BufferEmitted   int64   `json:"jitterBufferEmittedCount"`
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
	Concealment          float64 // share of audio samples concealed
	ConcealmentEvents    int64   // stretches concealed: one per unrepaired loss, one per stall
	AudioLoss, VideoLoss float64 // share of packets lost after repair
	Freezes              int64
	FreezeSeconds        float64
	LongestFreeze        float64 // seconds, from polling (measure)
	Wide                 float64 // share of the polls (measure) at 640 px or more
	// SentWide is the share of the polls in which the publisher encoded
	// its 640 px layer (its own estimate may stop it: nothing the
	// server can forward then); WideOfSent the share of those in which
	// this receiver got 640 px or more.
	SentWide, WideOfSent   float64
	FPS                    float64
	Width                  int
	VideoNACKs, AudioNACKs int64
	PLIs                   int64
	// AudioBuffer and VideoBuffer are the mean time a sample or frame
	// spent in the receiver's jitter buffer (seconds): the delay that
	// repairs and smoothing add.
	AudioBuffer, VideoBuffer float64
}

func quality(a, b rxPair, window time.Duration) networkQuality {
	loss := func(x, y *rxStats) float64 {
		// Chrome counts a packet repaired through RTX as lost on the
		// media stream (its statistics skip recovered packets) and as a
		// retransmission received: lost after repair is the difference.
		got, lost := y.PacketsReceived-x.PacketsReceived, y.PacketsLost-x.PacketsLost
		if got+lost <= 0 {
			return 0
		}
		return float64(max(lost-(y.Retransmitted-x.Retransmitted), 0)) / float64(got+lost)
	}
	q := networkQuality{AudioLoss: loss(a.Audio, b.Audio), VideoLoss: loss(a.Video, b.Video),
		Freezes: b.Video.Freezes - a.Video.Freezes, FreezeSeconds: b.Video.FreezeSeconds - a.Video.FreezeSeconds,
		FPS: float64(b.Video.FramesDecoded-a.Video.FramesDecoded) / window.Seconds(), Width: b.Video.FrameWidth,
		VideoNACKs: b.Video.NACKs - a.Video.NACKs, AudioNACKs: b.Audio.NACKs - a.Audio.NACKs, PLIs: b.Video.PLIs - a.Video.PLIs}
	if n := b.Audio.Samples - a.Audio.Samples; n > 0 {
		q.Concealment = float64(b.Audio.Concealed-a.Audio.Concealed) / float64(n)
	}
	q.ConcealmentEvents = b.Audio.Concealments - a.Audio.Concealments
	buffered := func(x, y *rxStats) float64 {
		if n := y.BufferEmitted - x.BufferEmitted; n > 0 {
			return (y.BufferSeconds - x.BufferSeconds) / float64(n)
		}
		return 0
	}
	q.AudioBuffer, q.VideoBuffer = buffered(a.Audio, b.Audio), buffered(a.Video, b.Video)
	return q
}

func (q networkQuality) String() string {
	return fmt.Sprintf("audio: %.2f %% concealed (%d stretches), %.2f %% lost after repair, %d NACKs, buffered %.0f ms; video: %.2f %% lost after repair, %d NACKs, %d PLIs, %d freezes (%.2f s, longest %.2f s), %.1f frames/s, buffered %.0f ms, %d px wide (≥ 640 px %.0f %% of the time; the publisher sent 640 px %.0f %% of the time, received then %.0f %%)",
		100*q.Concealment, q.ConcealmentEvents, 100*q.AudioLoss, q.AudioNACKs, 1000*q.AudioBuffer, 100*q.VideoLoss, q.VideoNACKs, q.PLIs, q.Freezes, q.FreezeSeconds, q.LongestFreeze, q.FPS, 1000*q.VideoBuffer, q.Width, 100*q.Wide, 100*q.SentWide, 100*q.WideOfSent)
}

// sendingJS describes what a browser sends: each simulcast layer's
// width, bytes, frames per second and limitation, and its estimate of
// the uplink; and the layer it last asked the server for.
const sendingJS = `(async () => { const out = []; for (const pc of __pcs) { (await pc.getStats()).forEach(s => {
	if (s.type === 'outbound-rtp' && s.kind === 'video') out.push((s.rid || '-') + ' ' + (s.frameWidth || 0) + 'px ' + Math.round(s.bytesSent / 1000) + 'kB ' + (s.framesPerSecond || 0) + 'fps ' + (s.scalabilityMode || '') + ' ' + (s.qualityLimitationReason || '') + ' bw-limited=' + (s.qualityLimitationDurations ? s.qualityLimitationDurations.bandwidth.toFixed(1) : '?') + 's nacks=' + s.nackCount + ' resent=' + s.retransmittedPacketsSent);
	if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) out.push('uplink estimate ' + Math.round(s.availableOutgoingBitrate / 1000) + ' kb/s');
	if (s.type === 'candidate-pair' && s.nominated && s.availableIncomingBitrate) out.push('downlink estimate ' + Math.round(s.availableIncomingBitrate / 1000) + ' kb/s'); }); }
	const m = __sent.filter(m => m.type === 'subscription').pop(); out.push('asked ' + (m ? m.layer : 'none')); return out.join(' | '); })()`

// netMeeting is two Chromium participants, each in a network namespace
// of its own behind an impaired link, in one meeting on a server on the
// lab's address; each sees and hears the other.
type netMeeting struct {
	t            testing.TB
	srv          *server.Server
	ada, bob     *browser
	adaID, bobID string
	links        [2]*netlab.Link
}

func newNetMeeting(t testing.TB, preset string) *netMeeting {
	return newNetMeetingSized(t, preset, 0, 0)
}

// newNetMeetingSized is newNetMeeting with browser windows of w×h (at
// 1600×1000 a tile asks for the high layer; at the default, medium).
func newNetMeetingSized(t testing.TB, preset string, w, h int) *netMeeting {
	return newNetMeetingIn(t, newLab(t), preset, w, h)
}

// newLab makes a lab removed when the test ends.
func newLab(t testing.TB) *netlab.Lab {
	lab, err := netlab.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lab.Close)
	return lab
}

// newNetMeetingIn is newNetMeetingSized in a given lab, with the
// server's configuration changed by configure, if given.
func newNetMeetingIn(t testing.TB, lab *netlab.Lab, preset string, w, h int, configure ...func(*config.Config)) *netMeeting {
	p, ok := netlab.PresetByName(preset)
	if !ok {
		t.Fatalf("no preset %s", preset)
	}
	var err error
	srv, _ := startServerWith(t, func(c *config.Config) {
		c.Listen = lab.ServerIP + ":0"
		c.Media.ListenIP = lab.ServerIP
		c.Media.ICEInterfaces = []string{lab.Iface}
		for _, f := range configure {
			f(c)
		}
	})
	m := &netMeeting{t: t, srv: srv}
	origin := srv.URL()
	roomURL := origin + "/network-meeting"
	var bs [2]*browser
	for i, name := range []string{"Ada", "Bob"} {
		if m.links[i], err = lab.AddLink(p.Up, p.Down); err != nil {
			t.Fatal(err)
		}
		bs[i] = newBrowser(t, name, browserOptions{audio: speechWAV(t, i), netns: m.links[i].NS.Name, secureOrigin: origin, width: w, height: h})
	}
	m.ada, m.bob = bs[0], bs[1]
	m.adaID = join(t, m.ada, roomURL, "Ada Lossy")
	m.bobID = join(t, m.bob, roomURL, "Bob Lossy")
	seesPlaying(t, m.bob, m.adaID, "Ada Lossy")
	seesPlaying(t, m.ada, m.bobID, "Bob Lossy")
	return m
}

// measure returns what each saw of the other over window.
func (m *netMeeting) measure(window time.Duration) (adaSawBob, bobSawAda networkQuality) {
	t := m.t
	a0, b0 := m.ada.rx(t, m.bobID), m.bob.rx(t, m.adaID)
	// Polled four times a second for the longest freeze: the browser
	// adds a freeze to its totals when it ends, so the duration added
	// between two polls is that freeze (or, rarely, several: an upper
	// bound).
	var longest [2]float64
	var wide, polls, sent, wideSent [2]int
	prev := [2]rxPair{a0, b0}
	publishers := [2]*browser{m.bob, m.ada}
	var hPrev [2]int
	for i, p := range publishers {
		hPrev[i] = evalJS[int](t, p, hFramesJS)
	}
	for end := time.Now().Add(window); time.Now().Before(end); {
		time.Sleep(min(250*time.Millisecond, time.Until(end)))
		now := [2]rxPair{m.ada.rx(t, m.bobID), m.bob.rx(t, m.adaID)}
		for i := range now {
			if now[i].Video.Freezes > prev[i].Video.Freezes {
				longest[i] = max(longest[i], now[i].Video.FreezeSeconds-prev[i].Video.FreezeSeconds)
			}
			polls[i]++
			isWide := now[i].Video.FrameWidth >= 640
			if isWide {
				wide[i]++
			}
			if h := evalJS[int](t, publishers[i], hFramesJS); h > hPrev[i] {
				hPrev[i] = h
				sent[i]++
				if isWide {
					wideSent[i]++
				}
			}
		}
		prev = now
	}
	adaSawBob, bobSawAda = quality(a0, prev[0], window), quality(b0, prev[1], window)
	adaSawBob.LongestFreeze, bobSawAda.LongestFreeze = longest[0], longest[1]
	qs := [2]*networkQuality{&adaSawBob, &bobSawAda}
	for i, q := range qs {
		if polls[i] > 0 {
			q.Wide, q.SentWide = float64(wide[i])/float64(polls[i]), float64(sent[i])/float64(polls[i])
		}
		if sent[i] > 0 {
			q.WideOfSent = float64(wideSent[i]) / float64(sent[i])
		}
	}
	return
}

// hFramesJS counts the frames a browser encoded on its camera's 640 px
// simulcast layer (rid h).
const hFramesJS = `(async () => { let n = 0; for (const pc of __pcs) { if (pc.connectionState === 'closed') continue;
	(await pc.getStats()).forEach(s => { if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid === 'h') n += s.framesEncoded || 0; }); } return n; })()`

// measureLogged measures as measure does, logs the figures with what
// explain tells, and returns them by receiver.
func (m *netMeeting) measureLogged(window time.Duration) map[string]networkQuality {
	adaSaw, bobSaw := m.measure(window)
	m.explain()
	m.t.Logf("Ada saw Bob: %v", adaSaw)
	m.t.Logf("Bob saw Ada: %v", bobSaw)
	return map[string]networkQuality{"Ada": adaSaw, "Bob": bobSaw}
}

// explain logs what each browser sends and what the server counted.
func (m *netMeeting) explain() {
	t := m.t
	for _, b := range []*browser{m.ada, m.bob} {
		t.Logf("%s sends: %s", b.name, evalJS[string](t, b, sendingJS))
	}
	if mfs, err := m.srv.Registry.Gather(); err == nil {
		var l []string
		for _, mf := range mfs {
			if n := mf.GetName(); strings.HasPrefix(n, "parley_pli") || strings.HasPrefix(n, "parley_rtp_packets_dropped") || strings.HasPrefix(n, "parley_nack") || strings.HasPrefix(n, "parley_rtp_retrans") {
				for _, mt := range mf.GetMetric() {
					if v := mt.GetCounter().GetValue(); v > 0 {
						l = append(l, fmt.Sprintf("%s%v=%.0f", n, mt.GetLabel(), v))
					}
				}
			}
		}
		t.Logf("server: %s", strings.Join(l, " "))
	}
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
	m := newNetMeeting(t, "loss2")
	for who, q := range m.measureLogged(20 * time.Second) {
		if q.Concealment > 0.02 {
			t.Errorf("%s: %.2f %% of audio concealed: want under 2 %%", who, 100*q.Concealment)
		}
		if q.VideoNACKs == 0 || q.VideoLoss > 0.02 {
			t.Errorf("%s: video %.2f %% lost after %d NACKs: want it repaired (under 2 %%)", who, 100*q.VideoLoss, q.VideoNACKs)
		}
		// Loose: the publisher's own estimator, fed the server's
		// transport-wide feedback over the same lossy, jittery uplink,
		// limits its encoder at times (qualityLimitationReason
		// "bandwidth": frames dropped, upper layers stopped), and runs
		// with 5–8 s of freezes in 20 s were seen from that alone.
		if q.FreezeSeconds > 10 || q.FPS < 8 {
			t.Errorf("%s: video froze %.2f s in 20 s, %.1f frames/s: want under 10 s and at least 8 frames/s", who, q.FreezeSeconds, q.FPS)
		}
		// Over the window, not at the last poll: Chrome's estimate under
		// loss still dips at times and the subscriber moves down for a
		// while (55-100 % of a run at 640 px, docs/benchmarks.md); held
		// low throughout, as before the loss rule, fails. Counted while
		// the publisher sent its 640 px layer: its own estimate, fed
		// back over the lossy uplink, sometimes stops the layer for most
		// of a run (seen: 202 kb/s, bandwidth-limited 21 s of 25, in
		// full test runs), and what it does not send nobody receives.
		if q.SentWide < 0.25 {
			t.Logf("%s: the publisher encoded its 640 px layer in only %.0f %% of the polls (its own bandwidth estimate): the 640 px check has too little to go on", who, 100*q.SentWide)
		} else if q.WideOfSent < 0.4 {
			t.Errorf("%s: received 640 px or more %.0f %% of the time the publisher sent it (%d px at the end): want the 640 px layer the tile asks for, at least 40 %% of that time (random loss and jitter are no congestion)", who, 100*q.WideOfSent, q.Width)
		}
	}
	// Repairs went on, so each page gave the video it receives headroom
	// for them (quality.js: two round trips + 50 ms, at least 100 ms)
	// and the frames waited in the buffer for it.
	for _, c := range []struct {
		who    string
		b      *browser
		sender string
	}{{"Ada", m.ada, m.bobID}, {"Bob", m.bob, m.adaID}} {
		target := evalJS[float64](t, c.b, `(() => { const v = document.querySelector('[data-participant-id=`+jsString(c.sender)+`] video');
			const r = v && v.srcObject && window.__receiverOf(v.srcObject.getVideoTracks()[0]); return r ? (r.jitterBufferTarget || 0) : -1; })()`)
		if target < 100 || target > 400 {
			t.Errorf("%s: the video received has a jitter buffer target of %.0f ms after a lossy window: want the repair headroom (100-400 ms)", c.who, target)
		}
	}
}

// TestChromiumRecoversLostAudioFromRED: two Chromium participants behind
// links that lose every tenth packet each way. Each browser sends its
// microphone as RED (the web client prefers it), so the server recovers
// what the uplink lost from the next packet; the server sends RED to
// each, so what the downlink loses is recovered in the browser. Almost
// nothing is concealed where a tenth of the packets of each hop is lost
// (0–0.13 %, in 0 or 1 stretch, here). With RED off (--no-audio-red)
// 4.5–5 % is concealed, Opus's in-band FEC recovering some
// (docs/benchmarks.md), in dozens of short stretches, one per loss left
// unrepaired (measured: 4.48 % in 35; the other receiver, whose Chrome
// happened to NACK its audio, 0.53 % in 5). A busy machine that stalls
// the browser or the impairment router for a quarter of a second
// conceals too, in few long stretches (a CI run: 1.77 % on one
// receiver, where every run here conceals 0–0.13 %; another 1.91 % in
// 17), so the test bounds the number of stretches and holds the share
// under what RED off gives. A stall passes, lost packets do not: a
// receiver over the bound is measured again over a second window, and
// the test fails only when both windows are over it (RED off conceals
// in every window).
func TestChromiumRecoversLostAudioFromRED(t *testing.T) {
	m := newNetMeeting(t, "every10")
	time.Sleep(2 * time.Second)
	over := func(q networkQuality) bool { return q.ConcealmentEvents > 10 || q.Concealment > 0.03 }
	first := m.measureLogged(15 * time.Second)
	var again map[string]networkQuality
	for who, q := range first {
		if !over(q) {
			continue
		}
		if again == nil {
			t.Logf("%s: %.2f %% concealed in %d stretches; measuring a second window", who, 100*q.Concealment, q.ConcealmentEvents)
			again = m.measureLogged(15 * time.Second)
		}
		if q2 := again[who]; over(q2) {
			t.Errorf("%s: %.2f %% then %.2f %% of audio concealed in %d then %d stretches behind links losing 10 %% each way: want under 3 %% in at most 10 in one of two windows (losses left unrecovered conceal in dozens)", who, 100*q.Concealment, 100*q2.Concealment, q.ConcealmentEvents, q2.ConcealmentEvents)
		}
	}
	if n := m.srv.SFU.Metrics().Snapshot().Recovered; n == 0 {
		t.Error("the server recovered no audio packet lost on an uplink: the browsers do not send RED")
	}
}

// renumberBob moves Bob's namespace to a new address (a phone changing
// network: the old one stops working at once) and returns how long after
// it Ada sees his video move again, and he hers (0: not within limit),
// and the participant ids of the tiles Ada then shows.
func (m *netMeeting) renumberBob(lab *netlab.Lab, limit time.Duration) (back [2]time.Duration, tiles string) {
	t := m.t
	if _, err := m.links[1].Renumber(lab); err != nil {
		t.Fatal(err)
	}
	moved := time.Now()
	// Frames decoded of the other's camera, -1 while there is none (were
	// Bob to join afresh, his tracks would be new ones, counting from 0).
	// Back when it grows between two looks 200 ms apart.
	frames := func(br *browser, name string) int64 {
		// By name: a participant who rejoins afresh has a new id.
		raw, err := evalErr[[]byte](br, "(() => { const x = __tile("+jsString(name)+"); return x ? __rx(x.id) : null; })()")
		var p rxPair
		if err != nil || json.Unmarshal(raw, &p) != nil || p.Video == nil {
			return -1
		}
		return p.Video.FramesDecoded
	}
	prev := [2]int64{-1, -1}
	time.Sleep(time.Second) // what was in flight still plays
	for time.Since(moved) < limit && (back[0] == 0 || back[1] == 0) {
		for i, w := range []struct {
			br   *browser
			name string
		}{{m.ada, "Bob Lossy"}, {m.bob, "Ada Lossy"}} {
			v := frames(w.br, w.name)
			if back[i] == 0 && prev[i] >= 0 && v > prev[i]+1 {
				back[i] = time.Since(moved)
			}
			prev[i] = v
		}
		time.Sleep(200 * time.Millisecond)
	}
	return back, evalJS[string](t, m.ada, `[...document.querySelectorAll('#grid [data-participant-id]')].map(t => t.dataset.participantId).join(' ')`)
}

// TestChromiumMovesToANewAddress: Bob's address changes mid-meeting (his
// namespace renumbered, the old address gone at once). His page notices
// nothing arriving on its subscriber connection for 1.5 s, finds its
// signalling socket dead with a ping unanswered for 1.5 s, resumes the
// session on a new socket and restarts ICE from the new address: both
// see each other's video again within 10 s (3.9-7.4 s measured; 17.8 s
// before, when the page waited 15 s for its pings and the server had
// removed Bob), and Bob is still the same participant.
func TestChromiumMovesToANewAddress(t *testing.T) {
	lab := newLab(t)
	m := newNetMeetingIn(t, lab, "clean", 0, 0)
	time.Sleep(2 * time.Second)
	back, tiles := m.renumberBob(lab, 20*time.Second)
	t.Logf("Ada sees Bob again after %v, Bob sees Ada after %v; tiles at Ada's: %s", back[0], back[1], tiles)
	for i, who := range []string{"Ada sees Bob's video", "Bob sees Ada's video"} {
		if back[i] == 0 || back[i] > 10*time.Second {
			t.Errorf("%s again after %v: want within 10 s (0: not in 20 s)", who, back[i])
		}
	}
	if !strings.Contains(tiles, m.bobID) || strings.Count(tiles, "PA_") != 2 {
		t.Errorf("tiles at Ada's: %s: want Bob's session %s kept (resumed, not joined again)", tiles, m.bobID)
	}
}

// BenchmarkChromiumNetworks measures two Chromium participants on each
// emulated network (docs/benchmarks.md; needs root):
//
//	go test ./internal/web -run '^$' -bench ChromiumNetworks -benchtime 1x
//
// Each preset (every10 also with --no-audio-red): 5 s to settle, then
// 40 s measured; the worse of the two
// receivers is reported. "outage": a clean link cut for 2 s, time until
// both see video advance again. "cap": windows asking for the high
// layer, a clean link capped at 500 kb/s down, time until the layer
// fits, then lifted, time until the high layer is back.
func BenchmarkChromiumNetworks(b *testing.B) {
	noRED := func(c *config.Config) { c.Media.NoAudioRED = true }
	for _, run := range []struct {
		name, preset string
		configure    []func(*config.Config)
	}{{"loss2", "loss2", nil}, {"burst5", "burst5", nil}, {"every10", "every10", nil}, {"every10-no-red", "every10", []func(*config.Config){noRED}},
		{"rtt300", "rtt300", nil}, {"down500", "down500", nil}, {"down250", "down250", nil}, {"up300", "up300", nil}} {
		b.Run(run.name, func(b *testing.B) {
			m := newNetMeetingIn(b, newLab(b), run.preset, 0, 0, run.configure...)
			time.Sleep(5 * time.Second)
			x, y := m.measure(40 * time.Second)
			b.Logf("Ada saw Bob: %v", x)
			b.Logf("Bob saw Ada: %v", y)
			m.explain()
			worst := func(f func(networkQuality) float64) float64 { return max(f(x), f(y)) }
			b.ReportMetric(100*worst(func(q networkQuality) float64 { return q.Concealment }), "%concealed")
			b.ReportMetric(worst(func(q networkQuality) float64 { return q.FreezeSeconds }), "s-frozen/40s")
			b.ReportMetric(worst(func(q networkQuality) float64 { return q.LongestFreeze }), "s-longest-freeze")
			b.ReportMetric(-worst(func(q networkQuality) float64 { return -q.FPS }), "min-fps")
			b.ReportMetric(-worst(func(q networkQuality) float64 { return -float64(q.Width) }), "min-px")
			b.ReportMetric(1000*worst(func(q networkQuality) float64 { return q.VideoBuffer }), "ms-video-buffered")
		})
	}
	b.Run("outage", func(b *testing.B) {
		m := newNetMeeting(b, "clean")
		time.Sleep(5 * time.Second)
		for _, k := range m.links {
			k.Outage(2 * time.Second)
		}
		back := time.Now().Add(2 * time.Second)
		time.Sleep(2 * time.Second)
		// What was received when the link came back; a frame or two may
		// still be decoded from the jitter buffer, a second's worth not.
		a0, b0 := m.ada.rx(b, m.bobID), m.bob.rx(b, m.adaID)
		var recovered, videoBack, audioBack [2]time.Duration
		for time.Since(back) < 30*time.Second && (recovered[0] == 0 || recovered[1] == 0) {
			for i, w := range []struct {
				br   *browser
				id   string
				base rxPair
			}{{m.ada, m.bobID, a0}, {m.bob, m.adaID, b0}} {
				if recovered[i] != 0 {
					continue
				}
				// Five frames and ten audio packets more: both move again.
				now := w.br.rx(b, w.id)
				if videoBack[i] == 0 && now.Video.FramesDecoded > w.base.Video.FramesDecoded+5 {
					videoBack[i] = time.Since(back)
				}
				if audioBack[i] == 0 && now.Audio.PacketsReceived > w.base.Audio.PacketsReceived+10 {
					audioBack[i] = time.Since(back)
				}
				if videoBack[i] != 0 && audioBack[i] != 0 {
					recovered[i] = max(videoBack[i], audioBack[i])
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		b.Logf("media back after the link returned: Ada %v (video %v, audio %v), Bob %v (video %v, audio %v)",
			recovered[0], videoBack[0], audioBack[0], recovered[1], videoBack[1], audioBack[1])
		m.explain()
		b.ReportMetric(max(recovered[0], recovered[1]).Seconds(), "s-to-recover")
	})
	b.Run("renumber", func(b *testing.B) {
		lab := newLab(b)
		m := newNetMeetingIn(b, lab, "clean", 0, 0)
		time.Sleep(5 * time.Second)
		back, ids := m.renumberBob(lab, 60*time.Second)
		b.Logf("Bob renumbered: Ada sees his video again after %v, he sees hers after %v (0: not within 60 s); tiles at Ada's: %s (Bob was %s)", back[0], back[1], ids, m.bobID)
		m.explain()
		b.ReportMetric(max(back[0], back[1]).Seconds(), "s-to-recover")
	})
	b.Run("cap", func(b *testing.B) {
		m := newNetMeetingSized(b, "clean", 1600, 1000)
		// The width of the frames each receiver decodes, the smaller of
		// the two; 0 while either decodes nothing (a frozen picture keeps
		// the width of its last frame).
		var decoded [2]int64
		width := func() int {
			w := math.MaxInt
			for i, x := range []rxPair{m.ada.rx(b, m.bobID), m.bob.rx(b, m.adaID)} {
				if x.Video.FramesDecoded == decoded[i] {
					w = 0
				}
				decoded[i] = x.Video.FramesDecoded
				w = min(w, x.Video.FrameWidth)
			}
			return w
		}
		waitWidth := func(ok func(int) bool, d time.Duration) time.Duration {
			start := time.Now()
			for time.Since(start) < d {
				if ok(width()) {
					return time.Since(start)
				}
				time.Sleep(250 * time.Millisecond)
			}
			return -1
		}
		if waitWidth(func(w int) bool { return w >= 1280 }, 40*time.Second) < 0 {
			b.Fatalf("never on the high layer: %d px", width())
		}
		p, _ := netlab.PresetByName("down500")
		a0, b0 := m.ada.rx(b, m.bobID), m.bob.rx(b, m.adaID)
		for _, k := range m.links {
			k.SetProfiles(p.Up, p.Down)
		}
		settle := waitWidth(func(w int) bool { return w > 0 && w <= 640 }, 30*time.Second)
		time.Sleep(max(20*time.Second-settle, 0))
		a1, b1 := m.ada.rx(b, m.bobID), m.bob.rx(b, m.adaID)
		capped := max(quality(a0, a1, 20*time.Second).FreezeSeconds, quality(b0, b1, 20*time.Second).FreezeSeconds)
		for _, k := range m.links {
			k.SetProfiles(netlab.Profile{}, netlab.Profile{})
		}
		up := waitWidth(func(w int) bool { return w >= 1280 }, 60*time.Second)
		b.Logf("capped at 500 kb/s: a fitting layer after %v, %.2f s frozen in 20 s; cap lifted: the high layer after %v", settle, capped, up)
		m.explain()
		b.ReportMetric(settle.Seconds(), "s-to-fit")
		b.ReportMetric(capped, "s-frozen-capped/20s")
		b.ReportMetric(up.Seconds(), "s-to-high")
	})
	b.Run("between-layers", func(b *testing.B) {
		// Windows asking for the high layer; once both receive it, each
		// downlink capped at what the publishers' high layer measures
		// over 5 s, plus 100 kb/s for audio and the rest: between the
		// medium and high layers (Chrome's estimate stays below a cap). Reported over the next 20 s, after 15 s to settle: the
		// share of the time on 1280 px, frames per second, freezes, and
		// the packets the server left out for their temporal layer.
		m := newNetMeetingSized(b, "clean", 1600, 1000)
		for end := time.Now().Add(40 * time.Second); ; time.Sleep(250 * time.Millisecond) {
			if m.ada.rx(b, m.bobID).Video.FrameWidth >= 1280 && m.bob.rx(b, m.adaID).Video.FrameWidth >= 1280 {
				break
			}
			if time.Now().After(end) {
				b.Fatalf("never on the high layer")
			}
		}
		time.Sleep(5 * time.Second)
		fBytes := `(async () => { let n = 0; for (const pc of __pcs) (await pc.getStats()).forEach(s => {
			if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid === 'f') n += s.bytesSent; }); return n; })()`
		f0 := evalJS[float64](b, m.ada, fBytes) + evalJS[float64](b, m.bob, fBytes)
		time.Sleep(5 * time.Second)
		high := (evalJS[float64](b, m.ada, fBytes) + evalJS[float64](b, m.bob, fBytes) - f0) * 8 / 5 / 2
		limit := int(high/1000) + 100
		for _, k := range m.links {
			k.SetProfiles(netlab.Profile{Delay: 20 * time.Millisecond}, netlab.Profile{Delay: 20 * time.Millisecond, RateKbps: limit})
		}
		time.Sleep(15 * time.Second)
		var polls, full [2]int
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
			for i, x := range []rxPair{m.ada.rx(b, m.bobID), m.bob.rx(b, m.adaID)} {
				polls[i]++
				if x.Video.FrameWidth >= 1280 {
					full[i]++
				}
			}
		}
		x, y := m.measure(10 * time.Second)
		temporal := 0.0
		if mfs, err := m.srv.Registry.Gather(); err == nil {
			for _, mf := range mfs {
				if mf.GetName() != "parley_rtp_packets_dropped_total" {
					continue
				}
				for _, mt := range mf.GetMetric() {
					for _, l := range mt.GetLabel() {
						if l.GetValue() == "temporal" {
							temporal = mt.GetCounter().GetValue()
						}
					}
				}
			}
		}
		share := min(float64(full[0])/float64(max(polls[0], 1)), float64(full[1])/float64(max(polls[1], 1)))
		b.Logf("high layer sent at %.0f kb/s; downlinks capped at %d kb/s: 1280 px %.0f %% of the time (worse receiver); then over 10 s: Ada saw Bob %v; Bob saw Ada %v; %0.f packets left out for their temporal layer",
			high/1000, limit, 100*share, x, y, temporal)
		m.explain()
		b.ReportMetric(100*share, "%-at-1280px")
		b.ReportMetric(min(x.FPS, y.FPS), "min-fps")
		b.ReportMetric(max(x.FreezeSeconds, y.FreezeSeconds), "s-frozen/10s")
	})
}

// TestChromiumThroughTURNOnly: two Chromiums on networks that let
// nothing through but TCP to port 443 (UDP dropped, the media TCP port
// too) join through the server's TURN relay over TLS, on 443 of a second
// address, with the credentials the join answer gives each, and see and
// hear each other; both connections run over a relayed candidate.
func TestChromiumThroughTURNOnly(t *testing.T) {
	lab := newLab(t)
	certFile, keyFile, _, err := tlscert.Write(t.TempDir(), lab.SecondIP)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startServerWith(t, func(c *config.Config) {
		c.Listen = lab.ServerIP + ":443"
		c.Media.ListenIP = lab.ServerIP
		c.Media.ICEInterfaces = []string{lab.Iface}
		c.Media.TURNIP, c.Media.TURNTLSPort = lab.SecondIP, 443
		c.Media.TURNCert, c.Media.TURNKey = certFile, keyFile
	})
	p, _ := netlab.PresetByName("tcp443")
	origin := srv.URL()
	roomURL := origin + "/turn-only-meeting"
	var bs [2]*browser
	for i, name := range []string{"Ada", "Bob"} {
		k, err := lab.AddLink(p.Up, p.Down)
		if err != nil {
			t.Fatal(err)
		}
		bs[i] = newBrowser(t, name, browserOptions{audio: speechWAV(t, i), netns: k.NS.Name, secureOrigin: origin, ignoreCertErrors: true})
	}
	ada, bob := bs[0], bs[1]
	start := time.Now()
	adaID := join(t, ada, roomURL, "Ada Relayed")
	bobID := join(t, bob, roomURL, "Bob Relayed")
	seesPlaying(t, bob, adaID, "Ada Relayed")
	seesPlaying(t, ada, bobID, "Bob Relayed")
	hearsPlaying(t, ada, bobID, "Bob Relayed")
	hearsPlaying(t, bob, adaID, "Ada Relayed")
	t.Logf("both joined and playing each other through TURN/TLS in %v", time.Since(start).Round(time.Millisecond))
	for _, b := range bs {
		pairs := evalJS[string](t, b, `(async () => { const out = []; for (const pc of __pcs) { if (pc.connectionState === 'closed') continue;
			const st = await pc.getStats(); let sel = null; st.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId) sel = st.get(s.selectedCandidatePairId); });
			const l = sel && st.get(sel.localCandidateId); out.push(l ? l.candidateType + '/' + (l.relayProtocol || l.protocol) : 'none'); } return out.join(' '); })()`)
		t.Logf("%s's connections: %s", b.name, pairs)
		if pairs == "" || strings.Contains(pairs, "host") || strings.Contains(pairs, "srflx") || strings.Contains(pairs, "none") || !strings.Contains(pairs, "relay/tls") {
			t.Errorf("%s's connections run over %q: want every one relayed over TLS", b.name, pairs)
		}
	}
}
