package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/testkit/client"
)

// knock takes a browser on the pre-join page of a locked room to its
// waiting screen.
func knock(t *testing.T, b *browser, name string) {
	t.Helper()
	b.do(t, chromedp.WaitVisible(chromedp.CSS("#display-name")))
	evalJS[chromedp.Void](t, b, `document.querySelector('#display-name').value = ''`)
	b.do(t, chromedp.SendKeys(chromedp.CSS("#display-name"), name))
	b.click(t, "#join")
	b.waitJS(t, 15*time.Second, name+" on the waiting screen",
		`(() => { const k = document.querySelector('#knock');
			return !k.hidden && document.querySelector('#prejoin').hidden && document.querySelector('#meeting').hidden
				&& document.querySelector('#knock-title').textContent === 'Waiting to be let in'
				&& document.activeElement.id === 'knock-title'
				&& /moderators know you are here/.test(document.querySelector('#knock-status').textContent); })()`,
		`({knock: !document.querySelector('#knock').hidden, status: document.querySelector('#join-status').textContent, recv: __recv.map(m => m.type)})`)
}

// clickRedrawn clicks an element of a list the page draws again on every
// change (the participant list): a click that lands between finding the
// node and clicking it finds it gone, and is tried again.
func clickRedrawn(t *testing.T, b *browser, sel string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Short attempts: a node the page replaced while chromedp waited
		// for it to be visible never becomes visible; find it again.
		ctx, cancel := b.timeout(time.Second)
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: click %s: %v\nconsole:\n%s", b.name, sel, err, b.consoleLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// toasted waits until b has shown a toast with this text.
func toasted(t *testing.T, b *browser, text string) {
	t.Helper()
	b.waitJS(t, 10*time.Second, fmt.Sprintf("the toast %q", text), `__toasts.includes(`+jsString(text)+`)`, `__toasts`)
}

// TestBrowserLobby: the owner locks the room; a second person knocks,
// is denied, knocks again and is admitted; the owner mutes them (and,
// with "only moderators unmute", they cannot unmute until allowed), then
// removes them. Two Chromiums.
func TestBrowserLobby(t *testing.T) {
	srv, _ := startServer(t)
	// A new name typed in the address bar: the first to join creates the
	// room, and owns it (its creator token stays in that browser).
	roomURL := srv.URL() + "/lobby-testing-room"
	t0 := time.Now()
	alice := newBrowser(t, "Alice", browserOptions{})
	bob := newBrowser(t, "Bob", browserOptions{})
	t.Logf("2 browsers started in %v", time.Since(t0))
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, b := range []*browser{alice, bob} {
			p := filepath.Join(t.ArtifactDir(), "lobby-"+strings.ToLower(b.name)+".png")
			if err := b.screenshot(p); err == nil {
				t.Logf("screenshot: %s", p)
			}
		}
	})
	// PARLEY_LOBBY_SCREENSHOTS=dir keeps pictures of each step.
	shot := func(b *browser, name string) {
		if dir := os.Getenv("PARLEY_LOBBY_SCREENSHOTS"); dir != "" {
			if err := b.screenshot(filepath.Join(dir, name+".png")); err != nil {
				t.Errorf("screenshot %s: %v", name, err)
			}
		}
	}
	const aliceName, bobName = "Alice Martin", "Bob Nguyen"
	entry := func(id string) string {
		return `document.querySelector('#participants-list [data-participant-entry=` + jsString(id) + `]')`
	}

	aliceID := join(t, alice, roomURL, aliceName)
	var bobID string

	t.Run("the owner locks the room", func(t *testing.T) {
		alice.openPanel(t, "participants")
		alice.waitJS(t, 5*time.Second, "Alice listed as the host, with the moderation controls",
			`(() => { const e = `+entry(aliceID)+`; return e && e.dataset.role === 'owner' && /Host/.test(e.textContent)
				&& !document.querySelector('#moderation').hidden && !document.querySelector('#lobby-toggle').hidden; })()`,
			`({entry: `+entry(aliceID)+`?.outerHTML, moderation: document.querySelector('#moderation').hidden})`)
		alice.click(t, "#lock-room")
		alice.waitJS(t, 5*time.Second, "the room locked",
			`document.querySelector('#lock-room').getAttribute('aria-pressed') === 'true' && !document.querySelector('#locked-indicator').hidden`,
			`__recv.filter(m => m.type === 'room_settings' || m.type === 'error')`)
		toasted(t, alice, "The meeting is locked: newcomers now wait to be let in")
	})

	t.Run("a knocker is denied", func(t *testing.T) {
		bob.navigate(t, roomURL)
		knock(t, bob, bobName)
		axCheck(t, bob, "waiting screen", 1)
		shot(bob, "lobby-knock")
		toasted(t, alice, bobName+" is waiting to be let in")
		alice.waitJS(t, 5*time.Second, "the lobby count and the chime",
			`document.querySelector('#lobby-toggle').dataset.count === '1' && /\(1 person waiting\)/.test(document.querySelector('#lobby-toggle').getAttribute('aria-label'))
				&& document.querySelector('#lobby-toggle .badge')?.textContent === '1' && __oscillators > 0`,
			`({count: document.querySelector('#lobby-toggle').dataset.count, label: document.querySelector('#lobby-toggle').getAttribute('aria-label'), osc: __oscillators})`)
		alice.openPanel(t, "lobby")
		alice.waitJS(t, 5*time.Second, "Bob in the lobby panel",
			`(() => { const e = document.querySelector('#lobby-list [data-lobby-entry]'); return !document.querySelector('#lobby-panel').hidden && e && e.textContent.includes(`+jsString(bobName)+`)
				&& document.activeElement.id === 'lobby-title'; })()`,
			`document.querySelector('#lobby-list').textContent`)
		shot(alice, "lobby-panel")
		alice.click(t, "#lobby-list [data-lobby-deny]")
		bob.waitJS(t, 10*time.Second, "the not-let-in screen",
			`(() => { const e = document.querySelector('#ended'); return !e.hidden && e.dataset.reason === 'denied' && document.querySelector('#knock').hidden
				&& document.querySelector('#ended-title').textContent === 'You were not let in' && document.activeElement.id === 'ended-title'; })()`,
			`({ended: document.querySelector('#ended').dataset.reason, title: document.querySelector('#ended-title').textContent, recv: __recv.map(m => m.type + ':' + (m.reason || ''))})`)
		alice.waitJS(t, 5*time.Second, "the lobby empty again",
			`document.querySelector('#lobby-toggle').dataset.count === '0' && !document.querySelector('#lobby-toggle .badge') && !document.querySelector('#lobby-empty').hidden`, "")
	})

	t.Run("the knocker leaves the lobby", func(t *testing.T) {
		bob.click(t, "#rejoin")
		knock(t, bob, bobName)
		alice.waitJS(t, 10*time.Second, "Bob waiting", `document.querySelector('#lobby-toggle').dataset.count === '1'`, "")
		bob.click(t, "#knock-leave")
		bob.waitJS(t, 10*time.Second, "the pre-join page again",
			`!document.querySelector('#prejoin').hidden && document.querySelector('#knock').hidden
				&& document.querySelector('#join-status').textContent === 'You left the waiting room.' && document.activeElement.id === 'display-name'`,
			`({status: document.querySelector('#join-status').textContent, focus: document.activeElement.id})`)
		alice.waitJS(t, 10*time.Second, "nobody waiting", `document.querySelector('#lobby-toggle').dataset.count === '0'`, "")
	})

	t.Run("the knocker knocks again and is admitted", func(t *testing.T) {
		knock(t, bob, bobName)
		alice.waitJS(t, 10*time.Second, "Bob in the lobby panel again",
			`!!document.querySelector('#lobby-list [data-lobby-admit]')`, `document.querySelector('#lobby-list').textContent`)
		alice.click(t, "#lobby-list [data-lobby-admit]")
		bob.waitJS(t, 15*time.Second, "Bob in the meeting",
			`!document.querySelector('#meeting').hidden && document.querySelector('#knock').hidden && document.querySelector('#grid .tile--self')`,
			`({recv: __recv.map(m => m.type)})`)
		bobID = evalJS[string](t, bob, `document.querySelector('#grid .tile--self').dataset.participantId`)
		for _, b := range []*browser{alice, bob} {
			b.waitJS(t, 10*time.Second, "two participants",
				`document.querySelectorAll('#grid [data-participant-id]').length === 2 && document.querySelector('#participant-count').textContent === '2 participants'`,
				`document.querySelector('#participant-count').textContent`)
		}
		// Bob is a participant: no moderation controls, and Alice is the host.
		bob.openPanel(t, "participants")
		bob.waitJS(t, 5*time.Second, "Bob's list: Alice the host, nothing to moderate",
			`(() => { const e = `+entry(aliceID)+`; return e && e.dataset.role === 'owner' && /Host/.test(e.textContent)
				&& document.querySelector('#moderation').hidden && document.querySelector('#lobby-toggle').hidden
				&& ![...document.querySelectorAll('[data-person-menu]')].some(b => b.checkVisibility()) && `+entry(bobID)+`?.dataset.role === 'participant'; })()`,
			`document.querySelector('#participants-list').innerText`)
	})
	if bobID == "" {
		t.FailNow()
	}

	t.Run("the owner mutes the participant", func(t *testing.T) {
		bob.waitJS(t, 10*time.Second, "Bob's microphone on", `document.querySelector('#toggle-mic').dataset.state === 'on'`, "")
		alice.openPanel(t, "participants")
		alice.waitJS(t, 10*time.Second, "Bob's microphone on at Alice's", entry(bobID)+`?.dataset.micOn === 'true'`, entry(bobID)+`?.outerHTML`)
		clickRedrawn(t, alice, `#participants-list [data-person-menu=`+jsString(bobID)+`]`)
		alice.waitJS(t, 5*time.Second, "the menu open on its first action",
			`!document.querySelector('#person-menu').hidden && document.activeElement.dataset.action === 'mute'
				&& document.activeElement.textContent === 'Mute `+bobName+`'`,
			`({menu: document.querySelector('#person-menu').innerText, focus: document.activeElement.outerHTML})`)
		shot(alice, "lobby-menu")
		alice.click(t, `#person-menu [data-action="mute"]`)
		bob.waitJS(t, 10*time.Second, "Bob shown muted", `document.querySelector('#toggle-mic').dataset.state === 'off'`, "")
		toasted(t, bob, aliceName+" muted you")
		shot(bob, "lobby-muted")
		alice.waitJS(t, 10*time.Second, "Bob muted at Alice's", entry(bobID)+`?.dataset.micOn === 'false' && __tile(`+jsString(bobID)+`).audioMuted`, "")

		// With "only moderators unmute", Bob cannot unmute until allowed.
		alice.click(t, "#speak-moderated")
		alice.waitJS(t, 5*time.Second, "speak moderated", `document.querySelector('#speak-moderated').getAttribute('aria-pressed') === 'true'`, "")
		bob.waitJS(t, 5*time.Second, "the setting at Bob's", `__recv.some(m => m.type === 'room_settings' && m.speak_moderated)`, "")
		bob.click(t, "#toggle-mic")
		toasted(t, bob, "A moderator muted you: you can speak again when a moderator allows it. Raise your hand to ask.")
		if s := evalJS[string](t, bob, `document.querySelector('#toggle-mic').dataset.state`); s != "off" {
			t.Errorf("Bob's microphone %s after an unmute a moderator holds", s)
		}
		// This time from the menu on Bob's tile.
		alice.click(t, `#grid [data-participant-id=`+jsString(bobID)+`] .tile__more`)
		alice.click(t, `#person-menu [data-action="allow_speak"]`)
		toasted(t, bob, aliceName+" allows you to speak: you can turn on your microphone")
		bob.click(t, "#toggle-mic")
		bob.waitJS(t, 5*time.Second, "Bob unmuted", `document.querySelector('#toggle-mic').dataset.state === 'on'`, "")
		alice.waitJS(t, 10*time.Second, "Bob unmuted at Alice's", entry(bobID)+`?.dataset.micOn === 'true'`, "")
	})

	t.Run("the owner stops the participant's camera", func(t *testing.T) {
		alice.waitJS(t, 10*time.Second, "Bob's camera on at Alice's", entry(bobID)+`?.dataset.cameraOn === 'true'`, "")
		clickRedrawn(t, alice, `#participants-list [data-person-menu=`+jsString(bobID)+`]`)
		alice.click(t, `#person-menu [data-action="stop_camera"]`)
		bob.waitJS(t, 10*time.Second, "Bob's camera shown off", `document.querySelector('#toggle-camera').dataset.state === 'off'`, "")
		toasted(t, bob, aliceName+" turned off your camera")
		alice.waitJS(t, 10*time.Second, "Bob's camera off at Alice's", entry(bobID)+`?.dataset.cameraOn === 'false' && __tile(`+jsString(bobID)+`).videoOff`, "")
		// He may turn it on again: a new track, seen at Alice's.
		bob.click(t, "#toggle-camera")
		alice.waitJS(t, 15*time.Second, "Bob's camera back at Alice's",
			`(() => { const x = __tile(`+jsString(bobID)+`); return x && !x.videoOff && x.videoWidth > 0; })()`, `__tile(`+jsString(bobID)+`)`)
	})

	t.Run("the owner removes the participant", func(t *testing.T) {
		clickRedrawn(t, alice, `#participants-list [data-person-menu=`+jsString(bobID)+`]`)
		alice.click(t, `#person-menu [data-action="remove"]`)
		alice.waitJS(t, 5*time.Second, "the confirmation, on Cancel",
			`document.querySelector('#confirm-dialog').open && document.querySelector('#confirm-title').textContent === 'Remove `+bobName+` from the meeting?'
				&& document.activeElement.id === 'confirm-cancel'`, `document.activeElement.outerHTML`)
		shot(alice, "lobby-confirm")
		alice.click(t, "#confirm-ok")
		bob.waitJS(t, 10*time.Second, "the removed screen",
			`(() => { const e = document.querySelector('#ended'); return !e.hidden && e.dataset.reason === 'removed'
				&& document.querySelector('#ended-title').textContent === 'You were removed from the meeting' && document.querySelector('#rejoin').hidden; })()`,
			`({reason: document.querySelector('#ended').dataset.reason, title: document.querySelector('#ended-title').textContent})`)
		shot(bob, "lobby-removed")
		alice.waitJS(t, 10*time.Second, "Alice alone", `document.querySelectorAll('#grid [data-participant-id]').length === 1 && !document.querySelector('#confirm-dialog').open`, "")
	})

	noProblems(t, bob)
	// At most two Chromiums at a time: Bob's goes before Carol's comes.
	bob.cancel()

	t.Run("two knock, all are admitted, the owner ends the meeting", func(t *testing.T) {
		carol := newBrowser(t, "Carol", browserOptions{})
		carol.navigate(t, roomURL)
		knock(t, carol, "Carol Dubois")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		dave, err := client.Connect(ctx, srv.URL(), client.Options{KeepMessages: true})
		if err != nil {
			t.Fatal(err)
		}
		defer dave.Close()
		if m, err := dave.Join(ctx, "lobby-testing-room", "Dave Pion"); err != nil || m.Type != "lobby" {
			var got []string
			for _, m := range dave.Messages() {
				got = append(got, string(m.Raw))
			}
			t.Fatalf("Dave's join: %s, %v; got %v", m.Type, err, got)
		}
		alice.waitJS(t, 10*time.Second, "two waiting, Admit all offered",
			`document.querySelector('#lobby-toggle').dataset.count === '2' && !document.querySelector('.lobby__all').hidden`,
			`document.querySelector('#lobby-toggle').dataset.count`)
		alice.openPanel(t, "lobby")
		alice.click(t, "#lobby-admit-all")
		carol.waitJS(t, 15*time.Second, "Carol in the meeting",
			`!document.querySelector('#meeting').hidden && document.querySelector('#grid .tile--self')`, `__recv.map(m => m.type)`)
		if _, err := dave.WaitFor(ctx, func(m client.Message) bool { return m.Type == "joined" }); err != nil {
			t.Fatalf("Dave not admitted: %v", err)
		}
		alice.waitJS(t, 10*time.Second, "three participants", `document.querySelector('#participant-count').textContent === '3 participants'`,
			`document.querySelector('#participant-count').textContent`)

		alice.openPanel(t, "participants")
		alice.click(t, "#end-meeting")
		alice.waitJS(t, 5*time.Second, "the confirmation", `document.querySelector('#confirm-dialog').open && document.activeElement.id === 'confirm-cancel'`, "")
		alice.click(t, "#confirm-ok")
		carol.waitJS(t, 10*time.Second, "the ended-by-a-moderator screen",
			`document.querySelector('#ended').dataset.reason === 'ended' && document.querySelector('#ended-title').textContent === 'A moderator ended the meeting'`,
			`({reason: document.querySelector('#ended').dataset.reason, title: document.querySelector('#ended-title').textContent})`)
		alice.waitJS(t, 10*time.Second, "Alice's end screen",
			`document.querySelector('#ended').dataset.reason === 'ended_by_us' && document.querySelector('#ended-title').textContent === 'You ended the meeting'`,
			`({reason: document.querySelector('#ended').dataset.reason, title: document.querySelector('#ended-title').textContent})`)
		if _, err := dave.WaitFor(ctx, func(m client.Message) bool { return m.Type == "bye" && strings.Contains(string(m.Raw), `"ended"`) }); err != nil {
			t.Fatalf("Dave told nothing: %v", err)
		}
		noProblems(t, carol)
	})
	noProblems(t, alice)
}

// noProblems fails the test when the page saw an uncaught error or a CSP violation.
func noProblems(t *testing.T, b *browser) {
	t.Helper()
	if p := b.pageProblems(t); len(p) > 0 {
		t.Errorf("%s: page problems:\n%s", b.name, strings.Join(p, "\n"))
	}
}
