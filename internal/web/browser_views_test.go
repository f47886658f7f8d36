package web_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/testkit/client"
)

// largeRoom fills the room with pion participants until Alice's grid
// pages, then checks that video of tiles off the page is paused (nothing
// arrives) and resumes when their page is shown.
func largeRoom(t *testing.T, base, roomID string, alice *browser) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var clients []*client.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	const n = 5
	for i := range n {
		c, err := client.Connect(ctx, base, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		if _, err := c.Join(ctx, roomID, fmt.Sprintf("Guest %d", i+1)); err != nil {
			t.Fatal(err)
		}
		// Small synthetic video: only the bytes matter here.
		if _, err := c.PublishVideo(ctx, client.VideoOptions{FPS: 10, Bitrates: [3]int{30_000, 40_000, 50_000}}); err != nil {
			t.Fatal(err)
		}
	}
	// A small window: 6 tiles a page, 3 browsers + 5 guests = 2 pages.
	alice.do(t, chromedp.EmulateViewport(640, 480))
	defer alice.do(t, chromedp.ResetViewport())
	alice.waitJS(t, 10*time.Second, "two pages",
		`!document.querySelector('#pager').hidden && document.querySelector('#page-label').textContent === 'Page 1 of 2' && document.querySelectorAll('#grid [data-participant-id]').length === 8`,
		`({label: document.querySelector('#page-label').textContent, tiles: document.querySelectorAll('#grid [data-participant-id]').length})`)
	ids := evalJS[[]string](t, alice, `[...document.querySelectorAll('#grid [data-participant-id]')].filter(e => e.hidden && e.querySelector('[data-participant-name]').textContent.startsWith('Guest')).map(e => e.dataset.participantId)`)
	if len(ids) == 0 {
		t.Fatal("no guest tile off the first page")
	}
	hidden := ids[0]
	// Paused at the server: after a moment nothing more arrives.
	time.Sleep(time.Second)
	before := alice.inbound(t, hidden, "video")
	time.Sleep(2 * time.Second)
	// (A packet or two may still have been on the way.)
	if after := alice.inbound(t, hidden, "video"); after-before > 2000 {
		t.Errorf("video of a tile off the page still arrives: %d -> %d bytes", before, after)
	}
	alice.clickChanging(t, "#page-next", `document.querySelector('#page-label').textContent`)
	alice.waitJS(t, 5*time.Second, "page 2", `document.querySelector('#page-label').textContent === 'Page 2 of 2' && !__tile(`+jsString(hidden)+`).hidden`,
		`({label: document.querySelector('#page-label').textContent, tile: __tile(`+jsString(hidden)+`), grid: document.querySelector('#grid').getBoundingClientRect().height})`)
	alice.flowing(t, hidden, "video", 10*time.Second)
	alice.click(t, "#page-prev")
	for _, c := range clients {
		c.Close()
	}
	clients = nil
	alice.waitJS(t, 10*time.Second, "guests gone, one page", `document.querySelector('#pager').hidden && document.querySelectorAll('#grid [data-participant-id]').length === 3`, "")
}

// checkAccessibility checks that every control has an accessible name (from
// Chromium's accessibility tree, as a screen reader gets it), that Tab
// reaches every control, and that the focus is visible.
func checkAccessibility(t *testing.T, b *browser) {
	b.click(t, "#participants-toggle")
	axCheck(t, b, "participants panel", 12)
	b.click(t, "#reactions")
	axCheck(t, b, "reactions menu", 18)
	b.do(t, chromedp.KeyEvent("\x1b"))
	b.click(t, "#chat-toggle") // the chat's controls too, for the Tab walk below
	defer b.click(t, "#chat-close")
	axCheck(t, b, "meeting", 12)
	b.click(t, "#help")
	axCheck(t, b, "help dialog", 1)    // modal: the rest of the page is inert
	b.do(t, chromedp.KeyEvent("\x1b")) // Escape closes the dialog
	b.waitJS(t, 5*time.Second, "help closed", `!document.querySelector('#help-dialog').open`, "")

	n := evalJS[int](t, b, `(() => {
		const all = [...document.querySelectorAll('button, a[href], input, select, textarea, [tabindex]')]
			.filter(e => e.tabIndex >= 0 && !e.disabled && e.getClientRects().length > 0 && !e.closest('[hidden]') && !e.closest('dialog:not([open])'));
		all.forEach((e, i) => e.dataset.tabIdx = String(i));
		window.__reached = new Set();
		window.__outline = [];
		document.addEventListener('focusin', (e) => {
			if (e.target.dataset && e.target.dataset.tabIdx) window.__reached.add(e.target.dataset.tabIdx);
			const s = getComputedStyle(e.target);
			window.__outline.push(s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2);
		});
		document.activeElement && document.activeElement.blur();
		window.__controls = all.length;
		return all.length;
	})()`)
	if n < 12 {
		t.Fatalf("only %d focusable controls found", n)
	}
	for i := 0; i < n+6; i++ {
		b.do(t, chromedp.KeyEvent("\t"))
	}
	missing := evalJS[[]string](t, b, `[...document.querySelectorAll('[data-tab-idx]')].filter(e => !__reached.has(e.dataset.tabIdx)).map(e => e.id || e.className || e.tagName)`)
	if len(missing) > 0 {
		t.Errorf("Tab never reaches %d of %d controls: %v", len(missing), n, missing)
	}
	if bad := evalJS[int](t, b, `__outline.filter(x => !x).length`); bad > 0 {
		t.Errorf("%d keyboard-focused controls show no focus outline", bad)
	}

	// Keyboard shortcuts: M toggles the microphone when no field has focus.
	evalJS[chromedp.Void](t, b, `document.activeElement && document.activeElement.blur()`)
	before := evalJS[string](t, b, `document.querySelector('#toggle-mic').dataset.state`)
	b.do(t, chromedp.KeyEvent("m"))
	b.waitJS(t, 5*time.Second, "M toggles the microphone", `document.querySelector('#toggle-mic').dataset.state !== `+jsString(before), "")
	b.do(t, chromedp.KeyEvent("m"))
	b.waitJS(t, 5*time.Second, "M toggles it back", `document.querySelector('#toggle-mic').dataset.state === `+jsString(before), "")
}

// axCheck reads Chromium's accessibility tree (what a screen reader
// gets): every button, field, box and link shown has a name.
func axCheck(t *testing.T, b *browser, where string, minButtons int) {
	t.Helper()
	ctx, cancel := b.timeout(15 * time.Second)
	defer cancel()
	tree, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	for _, n := range tree.Nodes {
		if n.Ignored || n.Role == nil {
			continue
		}
		var role, name string
		json.Unmarshal(n.Role.Value, &role)
		if n.Name != nil {
			json.Unmarshal(n.Name.Value, &name)
		}
		switch role {
		case "button", "textbox", "combobox", "checkbox", "link", "slider", "meter", "img":
			roles[role]++
			if strings.TrimSpace(name) == "" {
				t.Errorf("%s: a %s without an accessible name (DOM node %d)", where, role, n.BackendDOMNodeID)
			}
		}
	}
	if roles["button"] < minButtons {
		t.Errorf("%s: only %d buttons in the accessibility tree: %v", where, roles["button"], roles)
	}
	axeAudit(t, b, where)
}

// narrowAndFrench checks the meeting at 320 px (a small phone): nothing
// sticks out sideways and every control is on screen; then the switch to
// French relabels the controls.
func narrowAndFrench(t *testing.T, b *browser) {
	b.do(t, chromedp.EmulateViewport(320, 640))
	defer b.do(t, chromedp.ResetViewport())
	b.waitJS(t, 5*time.Second, "the phone layout", `window.innerWidth === 320`, "")
	time.Sleep(300 * time.Millisecond) // one layout pass
	report := evalJS[map[string]any](t, b, `(() => {
		const vw = window.innerWidth, vh = window.innerHeight;
		const off = [...document.querySelectorAll('#meeting button')]
			.filter(e => e.getClientRects().length > 0 && !e.closest('[hidden]') && !e.closest('.tile'))
			.filter(e => { const r = e.getBoundingClientRect(); return r.left < 0 || r.right > vw || r.top < 0 || r.bottom > vh; })
			.map(e => e.id || e.className);
		const tiles = [...document.querySelectorAll('#grid [data-participant-id]')].filter(e => !e.hidden)
			.map(e => e.getBoundingClientRect()).filter(r => r.width < 100 || r.right > vw);
		return {scroll: document.documentElement.scrollWidth, vw, off, smallTiles: tiles.length};
	})()`)
	if report["scroll"].(float64) > 320 || len(report["off"].([]any)) > 0 || report["smallTiles"].(float64) > 0 {
		t.Errorf("at 320 px: %v", report)
	}
	// The chat panel covers the stage on a phone.
	b.click(t, "#chat-toggle")
	w := evalJS[float64](t, b, `document.querySelector('#chat-panel').getBoundingClientRect().width`)
	if w < 300 || w > 320 {
		t.Errorf("chat panel %v px wide at 320 px", w)
	}
	b.click(t, "#chat-close")

	setLang := func(code string) {
		evalJS[chromedp.Void](t, b, `(() => { const s = document.querySelector('#settings-language'); s.value = `+jsString(code)+`; s.dispatchEvent(new Event('change')); })()`)
	}
	setLang("fr")
	b.waitJS(t, 5*time.Second, "French labels",
		`document.documentElement.lang === 'fr' && ['Couper le micro', 'Ouvrir le micro'].includes(document.querySelector('#toggle-mic').getAttribute('aria-label')) && document.querySelector('#leave').getAttribute('aria-label') === 'Quitter'`,
		`document.querySelector('#toggle-mic').getAttribute('aria-label')`)
	// The accessibility audit in French, with each side panel open.
	b.click(t, "#participants-toggle")
	axeAudit(t, b, "meeting in French at 320 px, participants panel open")
	b.click(t, "#chat-toggle")
	axeAudit(t, b, "meeting in French at 320 px, chat open")
	b.click(t, "#chat-close")
	setLang("en")
	b.waitJS(t, 5*time.Second, "English again", `document.querySelector('#leave').getAttribute('aria-label') === 'Leave'`, "")
}

//go:embed testdata/modules.js
var modulesJS string

// TestClientModules runs unit checks of the client's pure functions
// (room codes, links, layers, grid, quality, names, plurals) in Chromium,
// then the pre-join page of a browser that has no camera or microphone.
func TestClientModules(t *testing.T) {
	srv, _ := startServer(t)
	b := newBrowser(t, "modules", browserOptions{noDevices: true})
	b.navigate(t, srv.URL()+"/")
	// The create buttons show once the page knows the mode (open: anyone creates).
	b.do(t, chromedp.WaitVisible(chromedp.CSS("#new-meeting")))
	axCheck(t, b, "home page", 3)
	base := evalJS[string](t, b, `document.querySelector('script[type=module]').src.replace(/\/js\/home\.js$/, '')`)
	failures := evalJS[[]string](t, b, "("+modulesJS+")("+jsString(base)+")")
	for _, f := range failures {
		t.Error(f)
	}

	// A bad code is refused on the home page, with a message.
	b.do(t, chromedp.SendKeys(chromedp.CSS("#join-code"), "not a code"))
	b.click(t, "#join-code-submit")
	b.waitJS(t, 5*time.Second, "the code error", `!document.querySelector('#join-code-error').hidden && location.pathname === '/'`, "")

	b.navigate(t, srv.URL()+"/abc-defg-hij")
	b.waitJS(t, 10*time.Second, "the no-device message",
		`!document.querySelector('#media-error').hidden && /No camera or microphone/.test(document.querySelector('#media-error').textContent) && document.querySelector('#join').textContent === 'Join to listen and watch'`,
		`({error: document.querySelector('#media-error').textContent, join: document.querySelector('#join').textContent})`)
	axCheck(t, b, "pre-join page", 3)
	// Both pages in French too.
	for _, page := range []string{"/", "/abc-defg-hij"} {
		b.navigate(t, srv.URL()+page)
		evalJS[bool](t, b, `(() => { const s = document.querySelector('#language'); s.value = 'fr'; s.dispatchEvent(new Event('change')); return true; })()`)
		b.waitJS(t, 5*time.Second, "the page in French", `document.documentElement.lang === 'fr'`, "")
		axeAudit(t, b, page+" in French")
		evalJS[bool](t, b, `(() => { const s = document.querySelector('#language'); s.value = 'en'; s.dispatchEvent(new Event('change')); return true; })()`)
	}
	b.waitJS(t, 10*time.Second, "the pre-join page in English", `document.documentElement.lang === 'en' && document.querySelector('#join').textContent === 'Join to listen and watch'`, "")
	// An empty name is refused before asking the server.
	b.click(t, "#join")
	b.waitJS(t, 5*time.Second, "the name error", `!document.querySelector('#display-name-error').hidden && document.activeElement.id === 'display-name'`, "")
	if p := b.pageProblems(t); len(p) > 0 {
		t.Errorf("page problems:\n%s", strings.Join(p, "\n"))
	}
}
