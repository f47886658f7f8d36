package web_test

import (
	"testing"
	"time"
)

// TestBrowserRecording: the room's owner has a Record control, a
// participant has not; when the owner starts recording, both see the
// "Recording" indicator and the participant is told who started it;
// when it stops the indicator goes; the owner, leaving, is offered the
// recording on the end screen and the link downloads a ZIP.
func TestBrowserRecording(t *testing.T) {
	srv, _ := startServer(t)
	roomURL := srv.URL() + "/recording-browser-room"
	alice := newBrowser(t, "Alice", browserOptions{})
	bob := newBrowser(t, "Bob", browserOptions{})
	join(t, alice, roomURL, "Alice Martin")
	join(t, bob, roomURL, "Bob Nguyen")
	const indicator = `document.querySelector('#recording-indicator')`
	alice.waitJS(t, 10*time.Second, "the Record control for the owner",
		`!document.querySelector('#recording-toggle').hidden && document.querySelector('#recording-toggle').getAttribute('aria-pressed') === 'false'`,
		`document.querySelector('#recording-toggle').outerHTML`)
	bob.waitJS(t, 5*time.Second, "no Record control for a participant",
		`document.querySelector('#recording-toggle').hidden && `+indicator+`.dataset.on === 'false'`,
		`document.querySelector('#recording-toggle').outerHTML`)

	alice.click(t, "#recording-toggle")
	for _, b := range []*browser{alice, bob} {
		b.waitJS(t, 10*time.Second, "the recording indicator",
			indicator+`.dataset.on === 'true' && /Recording/.test(`+indicator+`.textContent) && /started by Alice Martin/.test(`+indicator+`.textContent)
				&& `+indicator+`.getBoundingClientRect().width > 0`,
			`({html: `+indicator+`.outerHTML, recv: __recv.filter(m => m.type === 'recording' || m.type === 'error')})`)
	}
	toasted(t, bob, "Alice Martin started recording the meeting: everyone's audio and video are kept")
	alice.waitJS(t, 5*time.Second, "the control pressed", `document.querySelector('#recording-toggle').getAttribute('aria-pressed') === 'true'`, `''`)

	alice.click(t, "#recording-toggle")
	bob.waitJS(t, 10*time.Second, "the indicator gone", indicator+`.dataset.on === 'false' && !`+indicator+`.textContent`, indicator+`.outerHTML`)
	toasted(t, bob, "Alice Martin stopped the recording")

	alice.click(t, "#leave")
	alice.waitJS(t, 10*time.Second, "the recording offered on the end screen",
		`!document.querySelector('#ended').hidden && !document.querySelector('#ended-recording').hidden
			&& /\/api\/meetings\/MT_[a-z0-9]+\/recording\?key=/.test(document.querySelector('#ended-recording-link').href)`,
		`({ended: document.querySelector('#ended').hidden, rec: document.querySelector('#ended-recording').outerHTML})`)
	alice.waitJS(t, 10*time.Second, "the link downloads a ZIP",
		`(async () => { const r = await fetch(document.querySelector('#ended-recording-link').href);
			const b = new Uint8Array(await r.arrayBuffer());
			return r.status === 200 && r.headers.get('content-type') === 'application/zip' && b[0] === 0x50 && b[1] === 0x4b; })()`,
		`fetch(document.querySelector('#ended-recording-link').href).then(r => r.status + ' ' + r.headers.get('content-type'))`)
	bob.waitJS(t, 5*time.Second, "no Record control for a participant at the end", `document.querySelector('#recording-toggle').hidden`, `''`)
}
