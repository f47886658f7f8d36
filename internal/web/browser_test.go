package web_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var roomPath = regexp.MustCompile(`^/[a-z]{2,12}(-[a-z]{2,12}){0,4}$`)

// join takes a browser from the pre-join page of url into the meeting
// and returns its participant id.
func join(t testing.TB, b *browser, url, name string) string {
	t.Helper()
	b.navigate(t, url)
	return enter(t, b, name)
}

// enter takes a browser on the pre-join page into the meeting under name
// and returns its participant id.
func enter(t testing.TB, b *browser, name string) string {
	t.Helper()
	b.do(t, chromedp.WaitVisible(chromedp.CSS("#display-name")))
	evalJS[chromedp.Void](t, b, `document.querySelector('#display-name').value = ''`)
	b.do(t, chromedp.SendKeys(chromedp.CSS("#display-name"), name))
	b.click(t, "#join")
	b.waitJS(t, 15*time.Second, name+" in the meeting",
		`!document.querySelector('#meeting').hidden && document.querySelector('#grid .tile--self')`,
		`({status: document.querySelector('#join-status').textContent, error: document.querySelector('#media-error').textContent})`)
	return evalJS[string](t, b, `document.querySelector('#grid .tile--self').dataset.participantId`)
}

// seesPlaying waits until b shows other's tile, named right, with
// decoded video, and receives their audio and video.
func seesPlaying(t testing.TB, b *browser, otherID, otherName string) {
	t.Helper()
	b.waitJS(t, 20*time.Second, fmt.Sprintf("%s's tile playing", otherName),
		fmt.Sprintf(`(() => { const x = __tile(%s); return x && !x.hidden && x.name === %s && x.videoWidth > 0 && !x.paused; })()`,
			jsString(otherID), jsString(otherName)),
		fmt.Sprintf(`__tile(%s)`, jsString(otherID)))
	b.flowingAV(t, otherID, 10*time.Second)
}

// hearsPlaying waits until b plays other's microphone: one <audio>
// element for them, not paused or muted, its playback time advancing
// while the audio bytes received for them grow.
func hearsPlaying(t *testing.T, b *browser, otherID, otherName string) {
	t.Helper()
	sinks := fmt.Sprintf(`[...document.querySelectorAll('#audio-sinks audio[data-owner=%s]')]`, jsString(otherID))
	b.waitJS(t, 10*time.Second, fmt.Sprintf("%s's voice playing", otherName),
		fmt.Sprintf(`(async () => { const as = %[1]s; if (as.length !== 1) return false; const a = as[0];
			if (a.paused || a.muted || !a.srcObject) return false;
			const t0 = a.currentTime, b0 = await __inbound(%[2]s, 'audio');
			await new Promise(r => setTimeout(r, 500));
			return b0 >= 0 && !a.paused && a.currentTime > t0 && (await __inbound(%[2]s, 'audio')) > b0; })()`, sinks, jsString(otherID)),
		fmt.Sprintf(`(async () => ({elements: %[1]s.map(a => ({paused: a.paused, muted: a.muted, time: a.currentTime, stream: !!a.srcObject})),
			bytes: await __inbound(%[2]s, 'audio')}))()`, sinks, jsString(otherID)))
}

func TestBrowserMeeting(t *testing.T) {
	srv, stopServer := startServer(t)
	base := srv.URL()
	t0 := time.Now()

	// Three people, each a separate Chromium with its own profile and
	// fake camera and microphone. Carol reaches the server through a
	// relay the test can cut (the reconnection case).
	type started struct {
		b   *browser
		err any
	}
	names := []string{"Alice Martin", "Bob Nguyen", "Carol Dubois"}
	browsers := make([]*browser, 3)
	done := make(chan int, 3)
	for i := range names {
		go func() {
			defer func() { done <- i }()
			browsers[i] = newBrowser(t, strings.Fields(names[i])[0], browserOptions{audio: speechWAV(t, i)})
		}()
	}
	for range names {
		<-done
	}
	for i, b := range browsers {
		if b == nil {
			t.Fatalf("browser %d did not start", i)
		}
	}
	alice, bob, carol := browsers[0], browsers[1], browsers[2]
	relay := newProxy(t, srv.Addr())
	t.Logf("3 browsers started in %v", time.Since(t0))

	// A failing test leaves a picture of the meeting as Alice saw it.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dir := t.ArtifactDir()
		for _, b := range browsers {
			p := filepath.Join(dir, "meeting-"+strings.ToLower(b.name)+".png")
			if err := b.screenshot(p); err == nil {
				t.Logf("screenshot: %s", p)
			}
		}
	})

	var roomURL, roomID string
	ids := map[string]string{}

	t.Run("home page creates a meeting", func(t *testing.T) {
		alice.navigate(t, base+"/")
		alice.click(t, "#new-meeting")
		alice.waitJS(t, 10*time.Second, "the meeting page", `/^\/[a-z-]+$/.test(location.pathname) && document.querySelector('#display-name')`, `location.href`)
		path := evalJS[string](t, alice, `location.pathname`)
		if !roomPath.MatchString(path) {
			t.Fatalf("new meeting at %q", path)
		}
		roomID = strings.TrimPrefix(path, "/")
		roomURL = base + path
		// The pre-join page: live preview, a moving level meter, devices listed.
		alice.waitJS(t, 10*time.Second, "camera preview, level meter and device lists",
			`(() => { const v = document.querySelector('#preview'); window.__maxLevel = Math.max(window.__maxLevel || 0, document.querySelector('#mic-level').value);
				const named = (id) => [...document.querySelectorAll(id + ' option')].some(o => o.value && o.textContent.trim());
				return v.videoWidth > 0 && !v.paused && window.__maxLevel > 0.05 && named('#camera-select') && named('#mic-select'); })()`,
			`({w: document.querySelector('#preview').videoWidth, level: window.__maxLevel, cams: document.querySelectorAll('#camera-select option').length})`)
	})
	if roomID == "" {
		t.FailNow()
	}

	t.Run("two people see and hear each other", func(t *testing.T) {
		ids["alice"] = join(t, alice, roomURL, names[0])
		ids["bob"] = join(t, bob, roomURL, names[1])
		seesPlaying(t, alice, ids["bob"], names[1])
		seesPlaying(t, bob, ids["alice"], names[0])
		// The camera is announced with its three simulcast layers.
		pubs := evalJS[string](t, alice, `JSON.stringify(__sent.filter(m => m.type === 'publish').map(m => [m.kind, m.source, (m.simulcast || []).join('')]))`)
		if pubs != `[["audio","microphone",""],["video","camera","qhf"]]` {
			t.Errorf("Alice published %s", pubs)
		}
		// This server has no speech engine: the transcription control says
		// why it does nothing, and there are no captions to show.
		if !evalJS[bool](t, alice, `(() => { const b = document.querySelector('#transcription-toggle'); const d = document.getElementById(b.getAttribute('aria-describedby'));
			return b.getAttribute('aria-disabled') === 'true' && d && /not available/.test(d.textContent) && /not available/.test(b.title) &&
				document.querySelector('#captions-toggle').hidden && document.querySelector('#transcription-prefs').hidden; })()`) {
			t.Error("the transcription control does not say it is unavailable")
		}
		alice.click(t, "#transcription-toggle")
		alice.waitJS(t, 5*time.Second, "the explanation", `/not available/.test(document.querySelector('#toasts').textContent) && !__sent.some(m => m.type === 'transcription')`, "")
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("third person joins by link from the home page", func(t *testing.T) {
		carol.navigate(t, relay.url()+"/")
		carol.do(t, chromedp.SendKeys(chromedp.CSS("#join-code"), relay.url()+"/"+roomID))
		carol.click(t, "#join-code-submit")
		carol.waitJS(t, 10*time.Second, "the meeting page", `location.pathname === `+jsString("/"+roomID), `location.href`)
		ids["carol"] = join(t, carol, relay.url()+"/"+roomID, names[2])
		for _, pair := range [][2]string{{"alice", "carol"}, {"bob", "carol"}, {"carol", "alice"}, {"carol", "bob"}} {
			b := map[string]*browser{"alice": alice, "bob": bob, "carol": carol}[pair[0]]
			seesPlaying(t, b, ids[pair[1]], names[map[string]int{"alice": 0, "bob": 1, "carol": 2}[pair[1]]])
		}
		for _, b := range browsers {
			if n := evalJS[int](t, b, `document.querySelectorAll('#grid [data-participant-id]').length`); n != 3 {
				t.Errorf("%s shows %d tiles, want 3", b.name, n)
			}
		}
		// Each tile rates its connection; the loudest voice is highlighted.
		alice.waitJS(t, 10*time.Second, "connection quality on Bob's tile",
			fmt.Sprintf(`(() => { const q = document.querySelector('#grid [data-participant-id=%s] .tile__quality'); return !q.hidden && ['good', 'fair', 'poor'].includes(q.dataset.level) && /^Connection: /.test(q.getAttribute('aria-label')); })()`, jsString(ids["bob"])), "")
		bob.waitJS(t, 15*time.Second, "an active speaker highlighted", `document.querySelector('#grid [data-active-speaker]')`, "")
		// Our own camera is mirrored, as in a looking glass; the others' not.
		if !evalJS[bool](t, bob, `getComputedStyle(document.querySelector('#grid .tile--self video')).transform !== 'none' &&
			[...document.querySelectorAll('#grid [data-participant-id]:not(.tile--self) video')].every(v => getComputedStyle(v).transform === 'none')`) {
			t.Error("Bob's own tile is not mirrored, or another is")
		}
	})
	t.Logf("three in the meeting after %v", time.Since(t0))
	if t.Failed() {
		t.FailNow()
	}
	all := map[string]*browser{"alice": alice, "bob": bob, "carol": carol}

	t.Run("everyone's voice plays", func(t *testing.T) {
		for _, me := range []string{"alice", "bob", "carol"} {
			for _, o := range []string{"alice", "bob", "carol"} {
				if o != me {
					hearsPlaying(t, all[me], ids[o], names[map[string]int{"alice": 0, "bob": 1, "carol": 2}[o]])
				}
			}
		}
	})
	others := func(me string) []string {
		var out []string
		for _, n := range []string{"alice", "bob", "carol"} {
			if n != me && ids[n] != "" {
				out = append(out, n)
			}
		}
		return out
	}

	t.Run("microphone and camera off are shown to the others", func(t *testing.T) {
		alice.click(t, "#toggle-mic")
		for _, o := range others("alice") {
			all[o].waitJS(t, 5*time.Second, "Alice's muted microphone",
				fmt.Sprintf(`(() => { const x = __tile(%s); return x.audioMuted && x.micIconVisible; })()`, jsString(ids["alice"])), `__tile(`+jsString(ids["alice"])+`)`)
		}
		bob.waitJS(t, 5*time.Second, "Alice's microphone off in the participant list",
			fmt.Sprintf(`document.querySelector('#participants-list [data-participant-entry=%s]').dataset.micOn === 'false'`, jsString(ids["alice"])), "")
		// The server drops a muted track: nothing more arrives.
		time.Sleep(500 * time.Millisecond)
		before := bob.inbound(t, ids["alice"], "audio")
		time.Sleep(1500 * time.Millisecond)
		if after := bob.inbound(t, ids["alice"], "audio"); after-before > 1000 {
			t.Errorf("Bob still receives Alice's muted audio: %d -> %d bytes", before, after)
		}
		alice.click(t, "#toggle-mic")
		bob.waitJS(t, 5*time.Second, "Alice's microphone back on", `!__tile(`+jsString(ids["alice"])+`).audioMuted`, "")
		bob.flowing(t, ids["alice"], "audio", 5*time.Second)

		alice.click(t, "#toggle-camera")
		for _, o := range others("alice") {
			all[o].waitJS(t, 5*time.Second, "Alice's camera off",
				`__tile(`+jsString(ids["alice"])+`).videoOff`, `__tile(`+jsString(ids["alice"])+`)`)
		}
		alice.waitJS(t, 5*time.Second, "Alice's own tile without video", `__tile(`+jsString(ids["alice"])+`).videoOff`, "")
		alice.click(t, "#toggle-camera")
		for _, o := range others("alice") {
			all[o].waitJS(t, 5*time.Second, "Alice's camera on", `!__tile(`+jsString(ids["alice"])+`).videoOff`, "")
			all[o].flowing(t, ids["alice"], "video", 10*time.Second)
			all[o].waitJS(t, 10*time.Second, "Alice's video playing again",
				fmt.Sprintf(`(async () => { const a = __tile(%[1]s).currentTime; await new Promise(r => setTimeout(r, 400)); const x = __tile(%[1]s); return x.videoWidth > 0 && x.currentTime > a; })()`, jsString(ids["alice"])),
				`__tile(`+jsString(ids["alice"])+`)`)
		}
	})

	t.Run("chat is text only and reaches everyone", func(t *testing.T) {
		// Markup must show as typed and run nothing; only http(s) links are links.
		msg := `Hi <img src=x onerror="window.__xss=1"><b>bold</b> see https://intranet.example/q3?a=1&b=2. Not javascript:window.__xss=2`
		bob.openPanel(t, "chat")
		bob.do(t, chromedp.WaitVisible(chromedp.CSS("#chat-input")))
		// The text is set, then Enter typed: typing 130 characters one
		// key event at a time takes longer than the step's 15 s when
		// three browsers share two cores, and the keyboard is not what
		// this step checks (Enter sending is).
		bob.do(t, chromedp.SetValue(chromedp.CSS("#chat-input"), msg), chromedp.SendKeys(chromedp.CSS("#chat-input"), "\r"))
		for _, name := range []string{"alice", "carol", "bob"} {
			b := all[name]
			b.waitJS(t, 5*time.Second, "the chat message",
				fmt.Sprintf(`[...document.querySelectorAll('[data-chat-message]')].some(m => m.querySelector('.chat-msg__text').textContent === %s)`, jsString(msg)),
				`[...document.querySelectorAll('[data-chat-message]')].map(m => m.textContent)`)
			check := evalJS[map[string]any](t, b, `(() => {
				const m = [...document.querySelectorAll('[data-chat-message]')].pop();
				const links = [...m.querySelectorAll('a')];
				return {
					sender: m.querySelector('.chat-msg__sender').textContent,
					time: m.querySelector('time').getAttribute('datetime'),
					imgs: document.querySelectorAll('#chat-log img, #chat-log b').length,
					xss: typeof window.__xss,
					links: links.map(a => a.href + ' ' + a.target + ' ' + a.rel),
				};
			})()`)
			wantSender := "Bob Nguyen"
			if name == "bob" {
				wantSender = "You"
			}
			if check["sender"] != wantSender || check["time"] == "" || check["imgs"] != 0.0 || check["xss"] != "undefined" {
				t.Errorf("%s: chat message %v", name, check)
			}
			links, _ := check["links"].([]any)
			if len(links) != 1 || links[0] != "https://intranet.example/q3?a=1&b=2 _blank noopener noreferrer" {
				t.Errorf("%s: links %v, want only the https one", name, links)
			}
		}
		if n := evalJS[string](t, alice, `document.querySelector('#chat-toggle').dataset.unread`); n != "1" {
			t.Errorf("Alice's chat button shows %q unread, want 1", n)
		}
		alice.openPanel(t, "chat")
		if n := evalJS[string](t, alice, `document.querySelector('#chat-toggle').dataset.unread`); n != "0" {
			t.Errorf("after opening the chat Alice has %q unread", n)
		}
	})

	t.Run("raised hand and reactions are shown", func(t *testing.T) {
		carol.click(t, "#raise-hand")
		for _, o := range others("carol") {
			all[o].waitJS(t, 5*time.Second, "Carol's raised hand",
				fmt.Sprintf(`(() => { const x = __tile(%s); return x.hand && x.handIconVisible; })()`, jsString(ids["carol"])), `__tile(`+jsString(ids["carol"])+`)`)
		}
		bob.openPanel(t, "participants")
		bob.waitJS(t, 5*time.Second, "Carol first in Bob's participant list with her hand up",
			fmt.Sprintf(`(() => { const e = document.querySelector('#participants-list li'); return e && e.dataset.participantEntry === %s && e.dataset.handRaised === 'true' && e.offsetParent !== null; })()`, jsString(ids["carol"])),
			`[...document.querySelectorAll('#participants-list li')].map(e => e.textContent)`)
		if got := evalJS[int](t, bob, `document.querySelectorAll('#participants-list li').length`); got != 3 {
			t.Errorf("Bob's participant list has %d entries", got)
		}

		alice.click(t, "#reactions")
		alice.click(t, `#reactions-menu [data-emoji="👏"]`)
		for _, o := range others("alice") {
			all[o].waitJS(t, 5*time.Second, "Alice's reaction on her tile",
				fmt.Sprintf(`[...document.querySelectorAll('#grid [data-participant-id=%s] .tile__reaction-bubble')].some(b => b.textContent === '👏')`, jsString(ids["alice"])), "")
		}
		if path := os.Getenv("PARLEY_SCREENSHOT"); path != "" {
			// For docs/: the meeting as Bob sees it, a hand up, a reaction.
			if err := bob.screenshot(path); err != nil {
				t.Errorf("screenshot: %v", err)
			}
			t.Logf("wrote %s", path)
		}
		carol.click(t, "#raise-hand")
		for _, o := range others("carol") {
			all[o].waitJS(t, 5*time.Second, "Carol's hand down", `!__tile(`+jsString(ids["carol"])+`).hand`, "")
		}
		bob.click(t, "#participants-close")
		if evalJS[bool](t, alice, `document.querySelector('#chat-panel').hidden === false`) {
			alice.click(t, "#chat-close")
		}
	})

	t.Run("pinned tile is large and asks the high layer", func(t *testing.T) {
		// Leave the grid as it was even when a check fails.
		defer evalErr[chromedp.Void](alice, `document.querySelectorAll('#grid .tile__pin[aria-pressed="true"]').forEach(b => b.click())`)
		alice.click(t, fmt.Sprintf(`#grid [data-participant-id=%s] .tile__pin`, jsString(ids["bob"])))
		alice.waitJS(t, 5*time.Second, "Bob's tile large",
			fmt.Sprintf(`(() => { const b = __tile(%s), c = __tile(%s); return b.width > 2 * c.width; })()`, jsString(ids["bob"]), jsString(ids["carol"])),
			fmt.Sprintf(`[__tile(%s), __tile(%s)]`, jsString(ids["bob"]), jsString(ids["carol"])))
		// The client asks the layer that fits each tile: high for the
		// large one, low for the small ones. Its quality monitor caps the
		// layers after 4 s of loss or round trips over 400 ms, which a
		// loopback meeting has only when the machine is starved, and
		// lifts the cap after 20 s of clean samples: the wait outlasts it.
		asked := func(id string) string {
			return fmt.Sprintf(`(() => { const tr = document.querySelector('#grid [data-participant-id=%s] video').dataset.trackId;
				const m = __sent.filter(m => m.type === 'subscription' && m.track_id === tr).pop(); return m ? m.layer + (m.paused ? ' paused' : '') : 'none'; })()`, jsString(id))
		}
		alice.waitJS(t, 30*time.Second, "high layer asked for the large tile, low for the small one",
			asked(ids["bob"])+` === 'high' && document.querySelector('#grid').dataset.layerCap === 'high' && `+asked(ids["carol"])+` === 'low'`,
			`({bob: `+asked(ids["bob"])+`, carol: `+asked(ids["carol"])+`, cap: document.querySelector('#grid').dataset.layerCap})`)
		alice.waitJS(t, 10*time.Second, "the low layer received for the small tile",
			`(async () => { const w = await __frameWidth(`+jsString(ids["carol"])+`); return w > 0 && w <= 320; })()`,
			`__frameWidth(`+jsString(ids["carol"])+`)`)
		// The pinned tile decodes Bob's high layer: frames as wide as
		// what Bob encodes for rid f right now (his encoder may scale
		// every layer down when his CPU is short, or stop f until it
		// recovers), and wider than his medium layer (h).
		sentWidths := `(async () => { const w = {}; for (const pc of __pcs) (await pc.getStats()).forEach(s => {
			if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid) w[s.rid] = s.frameWidth || 0; }); return w; })()`
		var got int
		var sent map[string]float64
		// The layer switch waits on Bob's bandwidth estimate, slow to grow
		// when three Chromiums share two busy cores: up to a minute.
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
			got = evalJS[int](t, alice, `__frameWidth(`+jsString(ids["bob"])+`)`)
			sent = evalJS[map[string]float64](t, bob, sentWidths)
			if got > 0 && float64(got) == sent["f"] && sent["f"] > sent["h"] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pinned tile decodes %d px wide frames; Bob sends %v (rid: width)", got, sent)
			}
		}
		t.Logf("frame widths received: pinned %d (Bob sends %v), small %d",
			got, sent, evalJS[int](t, alice, `__frameWidth(`+jsString(ids["carol"])+`)`))
		// Unpin from the keyboard (a mouse click here missed once in CI-like
		// runs, the tile being re-laid out under the pointer).
		// A key press that reached no button (CI, 2026-12-07: the pin kept
		// its state, the layout stayed "focus") is pressed again.
		unpin := fmt.Sprintf(`#grid [data-participant-id=%s] .tile__pin`, jsString(ids["bob"]))
		for try := 0; try < 3; try++ {
			alice.do(t, chromedp.Focus(chromedp.CSS(unpin)), chromedp.KeyEvent("\r"))
			back := false
			for deadline := time.Now().Add(2 * time.Second); !back && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				back = evalJS[bool](t, alice, `document.querySelector('#grid').dataset.layout === 'grid'`)
			}
			if back {
				break
			}
			t.Logf("unpin key press %d: the layout is still %q", try+1, evalJS[string](t, alice, `document.querySelector('#grid').dataset.layout`))
		}
		alice.waitJS(t, 5*time.Second, "the grid back", `document.querySelector('#grid').dataset.layout === 'grid'`,
			`[document.querySelector('#grid').dataset.layout, [...document.querySelectorAll('#grid .tile__pin[aria-pressed="true"]')].map(b => b.closest('[data-participant-id]')?.dataset.participantId), document.activeElement?.className]`)
		// Speaker view: someone else large, never ourselves.
		alice.toggle(t, "#layout-toggle")
		alice.waitJS(t, 15*time.Second, "speaker view",
			`document.querySelector('#grid').dataset.layout === 'speaker' && document.querySelector('.tile--focus[data-participant-id]') && !document.querySelector('.tile--focus').classList.contains('tile--self')`,
			`[document.querySelector('#grid').dataset.layout, document.querySelector('#layout-toggle').getAttribute('aria-pressed'), [...document.querySelectorAll('.tile--focus')].map(e => e.className + ' ' + e.dataset.participantId)]`)
		alice.toggle(t, "#layout-toggle")
		alice.waitJS(t, 5*time.Second, "the grid back", `document.querySelector('#grid').dataset.layout === 'grid'`, "")
	})

	t.Run("screen share is shown large", func(t *testing.T) {
		defer func() {
			if t.Failed() {
				evalErr[chromedp.Void](bob, `document.querySelector('#share-screen').dataset.state === 'on' && document.querySelector('#share-screen').click()`)
				t.Logf("Bob sent: %s", evalJS[string](t, bob, `JSON.stringify(__sent.filter(m => m.type === 'publish' || m.type === 'unpublish' || m.type === 'mute'))`))
				t.Logf("Bob received: %s", evalJS[string](t, bob, `JSON.stringify(__recv.filter(m => m.type === 'published' || m.type === 'error' || m.type === 'answer'))`))
				t.Logf("Bob sends: %s", evalJS[string](t, bob, `(async () => { const out = []; for (const pc of __pcs) { (await pc.getStats()).forEach(s => { if (s.type === 'outbound-rtp') out.push(s.kind + ' ' + (s.rid || '') + ' ' + s.bytesSent + 'B ' + (s.frameWidth || '') + ' ' + (s.qualityLimitationReason || '') + ' active=' + s.active); if (s.type === 'candidate-pair' && s.nominated) out.push('aob=' + s.availableOutgoingBitrate); }); } return out.join(' | '); })()`))
				t.Logf("Bob's publisher: %s", evalJS[string](t, bob, `JSON.stringify(__pcs.map(p => p.getTransceivers().map(x => [x.mid, x.currentDirection, x.sender.track && x.sender.track.kind + ':' + x.sender.track.readyState])))`))
			}
		}()
		bob.click(t, "#share-screen")
		screen := fmt.Sprintf(`document.querySelector('#grid [data-screen-of=%s]')`, jsString(ids["bob"]))
		for _, o := range others("bob") {
			all[o].waitJS(t, 15*time.Second, "Bob's screen, large and playing",
				fmt.Sprintf(`(() => { const s = %s; if (!s || s.hidden) return false; const v = s.querySelector('video'); const r = s.getBoundingClientRect();
					const cams = [...document.querySelectorAll('#grid [data-participant-id]')].filter(c => !c.hidden).map(c => c.getBoundingClientRect());
					return v.videoWidth > 0 && s.classList.contains('tile--focus') && cams.every(c => r.width * r.height > 3 * c.width * c.height); })()`, screen),
				fmt.Sprintf(`(() => { const s = %s; return {tile: s && {w: s.getBoundingClientRect().width, vw: s.querySelector('video').videoWidth, cls: s.className},
					tracks: __recv.filter(m => m.type.startsWith('track_') || m.type === 'offer').map(m => m.type + ' ' + JSON.stringify(m.track || m.mids || m.track_id))}; })()`, screen))

		}
		if evalJS[string](t, bob, `document.querySelector('#share-screen').dataset.state`) != "on" {
			t.Error("Bob's share button does not show sharing")
		}
		// While presenting, the screen comes first on Bob's uplink and his
		// camera's top layer is off.
		encodings := `JSON.stringify(__pcs.flatMap(pc => pc.getSenders()).filter(s => s.track && s.track.kind === 'video').map(s => s.getParameters().encodings.map(e => (e.rid || '-') + ':' + e.active + ':' + (e.priority || '')).join(',')))`
		bob.waitJS(t, 5*time.Second, "the screen kept sharp rather than smooth",
			`__pcs.flatMap(pc => pc.getSenders()).some(s => s.track && s.track.kind === 'video' && s.getParameters().degradationPreference === 'maintain-resolution')`,
			`__pcs.flatMap(pc => pc.getSenders()).filter(s => s.track).map(s => s.getParameters().degradationPreference)`)
		if got := evalJS[string](t, bob, encodings); got != `["q:true:low,h:true:low,f:false:low","-:true:high"]` {
			t.Errorf("Bob's video encodings while presenting: %s\nconsole:\n%s", got, bob.consoleLog())
		}
		// The captured audio comes along (Chromium offers it for tabs and
		// its fake capture): Alice plays Bob's microphone and screen audio.
		alice.waitJS(t, 10*time.Second, "Bob's screen audio",
			fmt.Sprintf(`document.querySelectorAll('#audio-sinks audio[data-owner=%s]').length === 2`, jsString(ids["bob"])), "")
		bob.click(t, "#share-screen")
		for _, o := range others("bob") {
			all[o].waitJS(t, 5*time.Second, "Bob's screen gone", "!"+screen, "")
		}
		// Back to what the server asks of the camera: its top layer is
		// on unless the server paused it because nobody watches it (a
		// share that lasts over 3 s on a slow machine: the layers
		// message, internal/sfu/layers.go).
		camBack := `(() => { const last = __recv.filter(m => m.type === 'layers' && m.rids.includes('q')).pop();
			const f = !last || last.rids.includes('f');
			return ` + encodings + ` === '["q:true:low,h:true:low,f:' + f + ':low"]'; })()`
		bob.waitJS(t, 5*time.Second, "Bob's camera layers back to what the server asks", camBack,
			`[`+encodings+`, JSON.stringify(__recv.filter(m => m.type === 'layers'))]`)
	})

	t.Run("socket drop resumes without reload", func(t *testing.T) {
		evalJS[chromedp.Void](t, carol, `window.__marker = 'same page';
			window.__bannerSeen = false;
			new MutationObserver(() => { const b = document.querySelector('#banner'); if (!b.hidden && b.dataset.kind === 'reconnecting') window.__bannerSeen = true; })
				.observe(document.querySelector('#banner'), {attributes: true, childList: true})`)
		if n := relay.drop(); n == 0 {
			t.Fatal("nothing to drop: Carol's socket does not go through the relay")
		}
		carol.waitJS(t, 10*time.Second, "Carol back", `window.__bannerSeen && document.querySelector('#banner').hidden && window.__marker === 'same page'`,
			`({seen: window.__bannerSeen, banner: document.querySelector('#banner').textContent})`)
		if tl := alice.tile(t, ids["carol"]); tl == nil {
			t.Fatal("Alice lost Carol's tile")
		}
		carol.flowing(t, ids["alice"], "video", 10*time.Second)
		carol.flowing(t, ids["alice"], "audio", 10*time.Second)
		alice.flowing(t, ids["carol"], "audio", 10*time.Second)
		// The session resumed: the room still knows Carol by the same id.
		if got := evalJS[string](t, carol, `document.querySelector('#grid .tile--self').dataset.participantId`); got != ids["carol"] {
			t.Errorf("Carol is %s after the drop, was %s", got, ids["carol"])
		}
	})

	t.Run("long outage rejoins without reload", func(t *testing.T) {
		old := ids["carol"]
		relay.block()
		// Past the peer timeout the server removes Carol…
		alice.waitJS(t, peerTimeout+10*time.Second, "Carol removed after the peer timeout",
			`!__tile(`+jsString(ids["carol"])+`)`, "")
		relay.unblock()
		// …and Carol, when the network is back, joins again by herself.
		// (Her new id: the banner hides as she joins, her tile is redrawn
		// on the next animation frame.)
		carol.waitJS(t, 15*time.Second, "Carol in the meeting again",
			`document.querySelector('#banner').hidden && document.querySelector('#grid .tile--self') && document.querySelector('#grid .tile--self').dataset.participantId !== `+jsString(old)+` && window.__marker === 'same page'`,
			`({banner: document.querySelector('#banner').textContent, ended: !document.querySelector('#ended').hidden})`)
		ids["carol"] = evalJS[string](t, carol, `document.querySelector('#grid .tile--self').dataset.participantId`)
		seesPlaying(t, alice, ids["carol"], names[2])
		seesPlaying(t, carol, ids["bob"], names[1])
	})

	t.Run("media lost with the socket up rejoins", func(t *testing.T) {
		// Carol's peer connections end (as when UDP is cut) while her
		// socket stays: the server removes her after the peer timeout and
		// says so; she joins again by herself.
		old := ids["carol"]
		evalJS[chromedp.Void](t, carol, `__pcs.forEach(p => p.close())`)
		alice.waitJS(t, peerTimeout+10*time.Second, "Carol removed", `!__tile(`+jsString(old)+`)`, "")
		carol.waitJS(t, 15*time.Second, "Carol in the meeting again",
			`document.querySelector('#grid .tile--self') && document.querySelector('#grid .tile--self').dataset.participantId !== `+jsString(old)+
				` && document.querySelector('#banner').hidden && window.__marker === 'same page'`,
			`({self: document.querySelector('#grid .tile--self') && document.querySelector('#grid .tile--self').dataset.participantId, banner: document.querySelector('#banner').textContent})`)
		ids["carol"] = evalJS[string](t, carol, `document.querySelector('#grid .tile--self').dataset.participantId`)
		seesPlaying(t, alice, ids["carol"], names[2])
		seesPlaying(t, carol, ids["alice"], names[0])
	})

	t.Run("listen-only join without devices", func(t *testing.T) {
		// A browser that refuses camera and microphone, in French.
		dave := newBrowser(t, "Dave", browserOptions{deny: true, lang: "fr-FR"})
		dave.navigate(t, roomURL)
		dave.waitJS(t, 10*time.Second, "the permission message",
			`!document.querySelector('#media-error').hidden && document.querySelector('#join').textContent === 'Rejoindre pour écouter et regarder'`,
			`({error: document.querySelector('#media-error').textContent, join: document.querySelector('#join').textContent, lang: document.documentElement.lang})`)
		daveID := join(t, dave, roomURL, "Dave Listener")
		seesPlaying(t, dave, ids["alice"], names[0])
		alice.waitJS(t, 5*time.Second, "Dave without camera or microphone",
			fmt.Sprintf(`(() => { const x = __tile(%s); return x && x.videoOff && x.audioMuted; })()`, jsString(daveID)), "")
		if p := dave.pageProblems(t); len(p) > 0 {
			t.Errorf("Dave: page problems:\n%s", strings.Join(p, "\n"))
		}
		dave.click(t, "#leave")
		alice.waitJS(t, 5*time.Second, "Dave gone", `!__tile(`+jsString(daveID)+`)`, "")
	})

	t.Run("large room pages and pauses hidden video", func(t *testing.T) {
		largeRoom(t, srv.URL(), roomID, alice)
	})

	t.Run("accessibility", func(t *testing.T) {
		checkAccessibility(t, alice)
	})

	t.Run("phone width and French", func(t *testing.T) {
		narrowAndFrench(t, bob)
	})

	t.Run("leave removes the tile", func(t *testing.T) {
		carol.click(t, "#leave")
		carol.waitJS(t, 5*time.Second, "Carol's end screen", `!document.querySelector('#ended').hidden && document.querySelector('#ended').dataset.reason === 'left'`, "")
		axeAudit(t, carol, "end screen")
		for _, o := range []*browser{alice, bob} {
			o.waitJS(t, 5*time.Second, "Carol's tile gone", `!__tile(`+jsString(ids["carol"])+`)`, "")
		}
		// Rejoin leads back to the pre-join page, her name remembered.
		carol.click(t, "#rejoin")
		carol.waitJS(t, 10*time.Second, "the pre-join page with her name", `document.querySelector('#display-name') && document.querySelector('#display-name').value === `+jsString(names[2]), "")
	})

	for _, b := range browsers {
		if p := b.pageProblems(t); len(p) > 0 {
			t.Errorf("%s: page problems:\n%s", b.name, strings.Join(p, "\n"))
		}
	}

	t.Run("server shutdown ends the meeting", func(t *testing.T) {
		stopServer()
		for _, b := range []*browser{alice, bob} {
			b.waitJS(t, 10*time.Second, "the end screen", `!document.querySelector('#ended').hidden && document.querySelector('#ended').dataset.reason === 'server_shutdown'`,
				`({reason: document.querySelector('#ended').dataset.reason})`)
		}
	})
	t.Logf("whole meeting test: %v", time.Since(t0))
}
