package web_test

import (
	"context"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/testkit/devset"
)

//go:embed testdata/instrument.js
var instrumentJS string

// chromium finds the browser: $PARLEY_CHROMIUM, else Debian's chromium
// (scripts/setup-debian.sh installs it), else Chrome.
func chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PARLEY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testing.Short() {
		t.Skip("no Chromium (browser tests need it; scripts/setup-debian.sh installs it)")
	}
	t.Fatal("no Chromium found: run scripts/setup-debian.sh, or set PARLEY_CHROMIUM")
	return ""
}

// startServer runs a Parley on loopback for the browser tests: HTTP on
// port 0, media gathered on lo only. stop shuts it down (once; the test's
// cleanup calls it too).
func startServer(t testing.TB) (srv *server.Server, stop func()) {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith is startServer with changes to its configuration.
func startServerWith(t testing.TB, configure func(*config.Config)) (srv *server.Server, stop func()) {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Media.UDPPort = 0
	cfg.Media.TCPPort = 0
	cfg.Media.ListenIP = "127.0.0.1"
	cfg.Media.ICEInterfaces = []string{"lo"}
	cfg.MetricsListen = "" // not read here; the default port may be taken
	// Short, so the test of a long network cut (the server forgets the
	// participant, who then joins afresh) does not wait 20 s.
	cfg.Media.PeerTimeout = peerTimeout
	// Speech recognition is tested elsewhere; here it would only take
	// the CPU the browsers need.
	cfg.Speech.Engine = "none"
	if configure != nil {
		configure(&cfg)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return srv, stop
}

const peerTimeout = 8 * time.Second

// browserOptions are one browser's devices and permissions.
type browserOptions struct {
	// deny answers every camera/microphone/screen request with "denied".
	deny bool
	// noDevices leaves out the fake camera and microphone: the browser
	// then has none (a headless machine has no real ones).
	noDevices bool
	// audio is the WAV file the fake microphone plays (looped).
	audio string
	// lang is the browser's language (e.g. "fr-FR"); default English.
	lang          string
	width, height int
	// netns runs the browser in that network namespace (netlab), and
	// secureOrigin is the server's http origin there, which the browser
	// must treat as secure to give camera and microphone.
	netns, secureOrigin string
	// ignoreCertErrors accepts any certificate (a test's TURN server).
	ignoreCertErrors bool
}

// browser is one headless Chromium process with its own profile: a
// separate person in the meeting.
type browser struct {
	t      testing.TB
	name   string
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	console []string
}

func newBrowser(t testing.TB, name string, o browserOptions) *browser {
	t.Helper()
	if o.width == 0 {
		o.width, o.height = 1280, 800
	}
	fakeUI := any(true)
	if o.deny {
		fakeUI = "deny"
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root in a container
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(o.width, o.height),
		chromedp.Flag("use-fake-ui-for-media-stream", fakeUI),
		// WebRTC on loopback: the server's only candidates are 127.0.0.1.
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		// Nothing but the test server: no update checks, sync, or field trials.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints,InterestFeedContentSuggestions"),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		// Background tabs must keep their timers: three "people" share a machine.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
	}
	if !o.noDevices {
		opts = append(opts, chromedp.Flag("use-fake-device-for-media-stream", true))
	}
	if o.lang == "" {
		o.lang = "en-US"
	}
	opts = append(opts, chromedp.Flag("lang", o.lang), chromedp.Flag("accept-lang", o.lang))
	if o.audio != "" {
		opts = append(opts, chromedp.Flag("use-file-for-fake-audio-capture", o.audio))
	}
	if o.secureOrigin != "" {
		opts = append(opts, chromedp.Flag("unsafely-treat-insecure-origin-as-secure", o.secureOrigin))
	}
	if o.ignoreCertErrors {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors", true))
	}
	if dir := os.Getenv("PARLEY_CHROMIUM_LOG"); dir != "" {
		// Chromium's own WebRTC log, one file per browser (diagnosis only).
		f, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		opts = append(opts, chromedp.CombinedOutput(f), chromedp.Flag("enable-logging", "stderr"),
			chromedp.Flag("vmodule", "*/webrtc/*=1"))
	}
	if o.netns != "" {
		// DevTools goes over the pipe (fds 3 and 4), which crosses the
		// namespace; the browser's network is the namespace's alone.
		ipPath, err := exec.LookPath("ip")
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.Args = append([]string{"ip", "netns", "exec", o.netns, cmd.Path}, cmd.Args[1:]...)
			cmd.Path = ipPath
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		}))
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, name: name}
	ctx, cancel := chromedp.NewContext(actx)
	b.ctx = ctx
	b.cancel = func() { cancel(); acancel() }
	t.Cleanup(b.cancel)
	// Start the browser with no deadline: the first Run binds its life.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: start chromium: %v", name, err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: instrumentJS}); err != nil {
		t.Fatalf("%s: instrument: %v", name, err)
	}
	go b.collectConsole()
	return b
}

// collectConsole keeps the page's console output to show when a test fails.
func (b *browser) collectConsole() {
	for m, err := range chromedp.Console(b.ctx) {
		if err != nil {
			return
		}
		b.mu.Lock()
		if len(b.console) < 500 {
			b.console = append(b.console, fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.String()))
		}
		b.mu.Unlock()
	}
}

func (b *browser) consoleLog() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.console, "\n")
}

func (b *browser) timeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, d)
}

// do runs actions with a deadline and fails the test on error.
func (b *browser) do(t testing.TB, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := b.timeout(15 * time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v\nconsole:\n%s", b.name, err, b.consoleLog())
	}
}

// navigate loads a page. It has 45 s, not do's 15: a browser's first
// navigation also starts its Chromium, which takes that long when three
// others are already in a meeting on two cores.
func (b *browser) navigate(t testing.TB, url string) {
	t.Helper()
	ctx, cancel := b.timeout(45 * time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("%s: navigate: %v\nconsole:\n%s", b.name, err, b.consoleLog())
	}
}

func (b *browser) click(t testing.TB, sel string) {
	t.Helper()
	b.do(t, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// toggle clicks a toggle button (one whose click handler sets its
// aria-pressed at once) and clicks again, up to three times in all, when
// a click left aria-pressed as it was: a click can miss a button that a
// re-layout moves under the pointer (CI, 2026-12-07).
func (b *browser) toggle(t testing.TB, sel string) {
	t.Helper()
	b.clickChanging(t, sel, fmt.Sprintf(`document.querySelector(%s).getAttribute('aria-pressed')`, jsString(sel)))
}

// openPanel opens a side panel ("participants", "chat", "lobby") and
// leaves an open one open: its toggle is clicked until it reports the
// panel expanded. A plain click on a toggle closes a panel already open,
// and can miss when a toast or a re-layout moves under the pointer (CI,
// 2026-12-07: the participants toggle missed, and every later step of
// TestBrowserLobby looked for the list in a hidden panel).
func (b *browser) openPanel(t testing.TB, name string) {
	t.Helper()
	sel := "#" + name + "-toggle"
	state := fmt.Sprintf(`document.querySelector(%s).getAttribute('aria-expanded')`, jsString(sel))
	if evalJS[string](t, b, state) == "true" {
		return
	}
	b.clickChanging(t, sel, state)
	b.waitJS(t, 5*time.Second, "the "+name+" panel open", fmt.Sprintf(`!document.querySelector('#%s-panel').hidden`, name), "")
}

// clickChanging clicks sel until the string state evaluates to something
// else than before the first click (up to three clicks, 2 s apart): a
// click can land while the page lays itself out again and reach nothing.
func (b *browser) clickChanging(t testing.TB, sel, state string) {
	t.Helper()
	before := evalJS[string](t, b, state)
	for try := 1; ; try++ {
		b.click(t, sel)
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if evalJS[string](t, b, state) != before {
				return
			}
		}
		if try == 3 {
			t.Fatalf("%s: %s still %q after %d clicks on %s", b.name, state, before, try, sel)
		}
		t.Logf("%s: click %d on %s changed nothing", b.name, try, sel)
	}
}

// evalJS evaluates an expression (awaiting a promise) into T.
func evalJS[T any](t testing.TB, b *browser, js string) T {
	t.Helper()
	v, err := evalErr[T](b, js)
	if err != nil {
		t.Fatalf("%s: eval %q: %v", b.name, js, err)
	}
	return v
}

func evalErr[T any](b *browser, js string) (T, error) {
	ctx, cancel := b.timeout(15 * time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// waitJS polls a boolean expression every 100 ms until it holds. The
// expression may be a promise (an async function's call): its value is
// awaited, not the promise itself taken as true. On timeout it reports
// the expression and the value of explain.
func (b *browser) waitJS(t testing.TB, d time.Duration, what, cond, explain string) {
	t.Helper()
	deadline := time.Now().Add(d)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := evalErr[bool](b, "(async () => !!(await ("+cond+")))()")
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	var detail string
	if explain != "" {
		raw, err := evalErr[[]byte](b, "(async () => ({state: await ("+explain+"), pcs: (window.__pcs || []).map(p => [p.connectionState, p.signalingState, p.getTransceivers().map(x => x.mid + ':' + x.currentDirection).join(' ')]), errors: window.__errors, csp: window.__csp}))()")
		detail = string(raw)
		if err != nil {
			detail += " (" + err.Error() + ")"
		}
	}
	t.Fatalf("%s: timed out after %v waiting for %s (%v)\nstate: %s\nconsole:\n%s", b.name, d, what, lastErr, detail, b.consoleLog())
}

// tile is what __tile (testdata/instrument.js) reports.
type tile struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Hidden         bool    `json:"hidden"`
	VideoWidth     int     `json:"videoWidth"`
	CurrentTime    float64 `json:"currentTime"`
	Paused         bool    `json:"paused"`
	AudioMuted     bool    `json:"audioMuted"`
	VideoOff       bool    `json:"videoOff"`
	Hand           bool    `json:"hand"`
	MicIconVisible bool    `json:"micIconVisible"`
	HandIconVisib  bool    `json:"handIconVisible"`
	Width          float64 `json:"width"`
	Height         float64 `json:"height"`
}

func (b *browser) tile(t testing.TB, key string) *tile {
	t.Helper()
	raw := evalJS[[]byte](t, b, "__tile("+jsString(key)+")")
	if string(raw) == "null" {
		return nil
	}
	var tl tile
	if err := json.Unmarshal(raw, &tl); err != nil {
		t.Fatal(err)
	}
	return &tl
}

// inbound returns the bytes received of someone's video or audio.
func (b *browser) inbound(t testing.TB, participantID, kind string) int64 {
	t.Helper()
	return evalJS[int64](t, b, fmt.Sprintf("__inbound(%s, %s)", jsString(participantID), jsString(kind)))
}

// flowing waits until someone's media received by b grows by more than
// minBytes (audio: ~1 s of Opus; video: a few frames).
func (b *browser) flowing(t testing.TB, participantID, kind string, d time.Duration) {
	t.Helper()
	start := b.inbound(t, participantID, kind)
	min := int64(4000)
	if kind == "video" {
		min = 20000
	}
	b.waitJS(t, d, fmt.Sprintf("%s from %s flowing", kind, participantID),
		fmt.Sprintf("(await __inbound(%s, %s)) > %d", jsString(participantID), jsString(kind), max(start, 0)+min),
		fmt.Sprintf("({start: %d, now: await __inbound(%s, %s), pcs: __pcs.map(p => p.connectionState), %s})", start, jsString(participantID), jsString(kind), signallingJS))
}

// signallingJS is the last signalling messages a page received and sent
// (types, with the reason, code and track of each), for a failure's
// state: whether an offer came, a join was answered, an error was sent.
const signallingJS = `recv: __recv.slice(-30).map(m => [m.type, m.reason, m.code, m.track && m.track.id, m.participant_id].filter(Boolean).join(':')),
	sent: __sent.slice(-20).map(m => [m.type, m.track_id].filter(Boolean).join(':'))`

// flowingAV waits until both someone's video and audio grow (see flowing).
func (b *browser) flowingAV(t testing.TB, participantID string, d time.Duration) {
	t.Helper()
	id := jsString(participantID)
	key := jsString(fmt.Sprintf("%s-%d", participantID, time.Now().UnixNano()))
	b.waitJS(t, d, fmt.Sprintf("audio and video from %s flowing", participantID),
		fmt.Sprintf(`(async () => {
			const v = await __inbound(%[1]s, 'video'), a = await __inbound(%[1]s, 'audio');
			window.__base = window.__base || {};
			const b = window.__base[%[2]s] || (window.__base[%[2]s] = {v: Math.max(v, 0), a: Math.max(a, 0)});
			return v > b.v + 20000 && a > b.a + 4000; })()`, id, key),
		fmt.Sprintf(`({base: (window.__base || {})[%s], video: await __inbound(%[2]s, 'video'), audio: await __inbound(%[2]s, 'audio')})`, key, id))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot writes a PNG of the viewport.
func (b *browser) screenshot(path string) error {
	ctx, cancel := b.timeout(15 * time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// pageProblems returns CSP violations and uncaught errors the page saw.
func (b *browser) pageProblems(t testing.TB) []string {
	t.Helper()
	raw := evalJS[[]byte](t, b, "[...window.__csp.map(v => 'CSP: ' + v), ...window.__errors]")
	var out []string
	json.Unmarshal(raw, &out)
	return out
}

// proxy is a TCP relay in front of the server, so a test can cut a
// browser's connections (its signalling socket) as a network drop would,
// while its media (UDP, straight to the server) keeps going.
type proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	blocked bool
	wg      sync.WaitGroup
}

func newProxy(t testing.TB, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		blocked := p.blocked
		p.mu.Unlock()
		if blocked {
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.conns[up] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// drop resets every open connection (RST, as a dead link would look
// after the browser's next write).
func (p *proxy) drop() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
		n++
	}
	return n
}

// block makes the relay refuse connections (and cuts the open ones), as
// a network outage would; unblock ends it.
func (p *proxy) block() {
	p.mu.Lock()
	p.blocked = true
	p.mu.Unlock()
	p.drop()
}

func (p *proxy) unblock() {
	p.mu.Lock()
	p.blocked = false
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.ln.Close()
	p.drop()
	p.wg.Wait()
}

// speechWAV returns a WAV file for a fake microphone: a dev-set recording
// when the dev set is there (real speech: the browser's voice detection
// flags it), else a synthetic voice-like signal written here.
func speechWAV(t testing.TB, i int) string {
	t.Helper()
	if dir, err := devset.Dir(); err == nil {
		p := filepath.Join(dir, "audio", "dev-s-en-01.wav")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p := filepath.Join(t.TempDir(), fmt.Sprintf("voice-%d.wav", i))
	if err := writeVoiceWAV(p, 150+float64(i)*40, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeVoiceWAV writes 16-bit mono 48 kHz PCM: a harmonic-rich tone at f0
// shaped into 4 Hz "syllables", like voiced speech to a level meter.
func writeVoiceWAV(path string, f0 float64, d time.Duration) error {
	const rate = 48000
	n := int(d.Seconds() * rate)
	pcm := make([]int16, n)
	for i := 0; i < n; i++ {
		ts := float64(i) / rate
		env := math.Max(0, math.Sin(2*math.Pi*4*ts))
		var v float64
		for h := 1; h <= 8; h++ {
			v += math.Sin(2*math.Pi*f0*float64(h)*ts) / float64(h)
		}
		pcm[i] = int16(v * env * 6000)
	}
	return writeWAV(path, rate, pcm)
}

// writeWAV writes 16-bit mono PCM as a RIFF WAV file, the format
// Chromium's --use-file-for-fake-audio-capture reads.
func writeWAV(path string, rate int, samples []int16) error {
	pcm := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(s))
	}
	hdr := make([]byte, 44)
	copy(hdr, "RIFF")
	binary.LittleEndian.PutUint32(hdr[4:], uint32(36+len(pcm)))
	copy(hdr[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(hdr[16:], 16)
	binary.LittleEndian.PutUint16(hdr[20:], 1)
	binary.LittleEndian.PutUint16(hdr[22:], 1)
	binary.LittleEndian.PutUint32(hdr[24:], uint32(rate))
	binary.LittleEndian.PutUint32(hdr[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(hdr[32:], 2)
	binary.LittleEndian.PutUint16(hdr[34:], 16)
	copy(hdr[36:], "data")
	binary.LittleEndian.PutUint32(hdr[40:], uint32(len(pcm)))
	return os.WriteFile(path, append(hdr, pcm...), 0o644)
}
