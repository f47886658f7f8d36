package web_test

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/oidcop"
)

// ownerSettings is GET /api/rooms/{id}/settings as the server answers it.
type ownerSettings struct {
	Access          string `json:"access"`
	Locked          bool   `json:"locked"`
	TranscriptionBy string `json:"transcription_by"`
	SpeakModerated  bool   `json:"speak_moderated"`
	RetainDays      int    `json:"retain_days"`
	RetainRec       int    `json:"retain_recording_days"`
	Members         []struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	} `json:"members"`
}

// getJSON asks the server directly (not through the page) with header
// h set, and decodes a 200 answer into out; it returns the status.
func getJSON(t *testing.T, url string, h http.Header, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// visible is a JS test of an element shown on the page.
func visible(sel string) string {
	return `(() => { const e = document.querySelector(` + jsString(sel) + `); return !!e && e.getClientRects().length > 0; })()`
}

// TestBrowserRoomsSignedIn: in oidc mode, someone signs in from the home
// page, creates a "trusted" room with a chosen name, finds it in My rooms,
// makes it restricted with a member in its settings dialog (the server
// then has both), reads the change in the audit log, and signs out.
func TestBrowserRoomsSignedIn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	op := oidcop.StartHost(t, "localhost", base+auth.CallbackPath, base+"/")
	startServerWith(t, func(c *config.Config) {
		c.Listen, c.PublicURL = addr, base
		c.OIDC.Issuer, c.OIDC.ClientID, c.OIDC.ClientSecret = op.Issuer, op.ClientID, op.ClientSecret
	})
	b := newBrowser(t, "ada", browserOptions{noDevices: true})
	const roomID = "council-budget-review"

	// Not signed in: joining by code is there, creating asks to sign in.
	b.navigate(t, base+"/")
	b.waitJS(t, 10*time.Second, "the sign-in button", visible("#sign-in")+` && `+visible("#sign-in-prompt")+` && !`+visible("#new-meeting")+
		` && `+visible("#join-code")+` && document.querySelector('#my-rooms').hidden`, `document.querySelector('#account').outerHTML`)
	// A guest on a meeting page keeps the name field, and may sign in.
	b.navigate(t, base+"/"+roomID)
	b.waitJS(t, 10*time.Second, "the guest's pre-join page",
		visible("#display-name-account")+` && /You join as a guest/.test(document.querySelector('#display-name-account').textContent) && !document.querySelector('#display-name').readOnly &&
			document.querySelector('#prejoin-sign-in').getAttribute('href') === '/auth/login?next=%2F`+roomID+`' && `+visible("#sign-in"),
		`document.querySelector('#display-name-account').outerHTML`)
	b.navigate(t, base+"/")
	b.click(t, "#sign-in")
	b.do(t, chromedp.WaitVisible(chromedp.CSS("#username")))
	b.do(t, chromedp.SendKeys(chromedp.CSS("#username"), op.Username), chromedp.SendKeys(chromedp.CSS("#password"), oidcop.Password))
	b.click(t, `button[type=submit]`)
	b.waitJS(t, 15*time.Second, "home, signed in, with an empty room list",
		`location.href === `+jsString(base+"/")+` && document.querySelector('#account-name')?.textContent === `+jsString(oidcop.Name)+
			` && `+visible("#sign-out")+` && `+visible("#new-meeting")+` && `+visible("#my-rooms-empty"),
		`({href: location.href, account: document.querySelector('#account').textContent, rooms: document.querySelector('#my-rooms').outerHTML})`)

	// A new room with a name and "trusted" access.
	b.click(t, "#new-room")
	b.waitJS(t, 5*time.Second, "the new room form with three access levels",
		`document.querySelector('#new-room-dialog').open && document.activeElement.id === 'new-room-name' && document.querySelectorAll('input[name=nr-access]').length === 3`, "")
	b.do(t, chromedp.SendKeys(chromedp.CSS("#new-room-name"), roomID))
	b.click(t, "#nr-access-trusted")
	b.click(t, "#new-room-create")
	row := `#my-rooms-list [data-room-id="` + roomID + `"]`
	b.waitJS(t, 10*time.Second, "the room in My rooms",
		`!document.querySelector('#new-room-dialog').open && document.querySelector(`+jsString(row+` a[href="/`+roomID+`"]`)+`) && /No meeting in progress/.test(document.querySelector(`+jsString(row)+`).textContent)`,
		`({error: document.querySelector('#new-room-error').textContent, nameError: document.querySelector('#new-room-name-error').textContent, list: document.querySelector('#my-rooms').textContent})`)

	// Its settings: restricted, with a member.
	b.click(t, `[data-room-settings="`+roomID+`"]`)
	b.waitJS(t, 10*time.Second, "the settings dialog, loaded, with the creation in the audit log",
		`document.querySelector('#room-settings-dialog').open && document.querySelector('#rs-access-trusted').checked && !document.querySelector('#rs-save').disabled &&
			document.querySelector('#rs-audit tr[data-audit-action=room_created]')`,
		`({error: document.querySelector('#rs-error')?.textContent, status: document.querySelector('#rs-status')?.textContent})`)
	b.click(t, "#rs-access-restricted")
	b.click(t, "#rs-add-member")
	b.waitJS(t, 5*time.Second, "a member row with the focus", `document.activeElement.matches('#rs-members input[type=email]')`, "")
	b.do(t, chromedp.SendKeys(chromedp.CSS("#rs-members li:last-child input"), "Grace.Hopper@example.org"))
	b.do(t, chromedp.SetValue(chromedp.CSS("#rs-members li:last-child select"), "moderator"))
	// Its transcripts kept 30 days (empty: the server's setting).
	b.waitJS(t, 5*time.Second, "the retention field, empty", `document.querySelector('#rs-retain').value === '' && !!document.querySelector('label[for=rs-retain]')`, "")
	b.do(t, chromedp.SendKeys(chromedp.CSS("#rs-retain"), "30"))
	b.waitJS(t, 5*time.Second, "the recordings' retention field, empty", `document.querySelector('#rs-retain-rec').value === '' && !!document.querySelector('label[for=rs-retain-rec]')`, "")
	b.do(t, chromedp.SendKeys(chromedp.CSS("#rs-retain-rec"), "7"))
	axCheck(t, b, "room settings dialog", 5)
	b.click(t, "#rs-save")
	b.waitJS(t, 10*time.Second, "saved, and the change in the audit log",
		`document.querySelector('#rs-status').textContent === 'Settings saved.' && document.querySelector('#rs-audit tbody tr').dataset.auditAction === 'settings' &&
			[...document.querySelectorAll('#rs-audit tr[data-audit-action=settings]')].some(r => /access=restricted/.test(r.textContent) && /members=1/.test(r.textContent) && r.textContent.includes(`+jsString(oidcop.Name)+`))`,
		`({error: document.querySelector('#rs-error').textContent, status: document.querySelector('#rs-status').textContent, audit: document.querySelector('#rs-audit').textContent})`)

	// The server has them: asked directly with the owner's session cookie.
	ctx, cancel := b.timeout(15 * time.Second)
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for _, c := range cookies.Cookies {
		if c.Name == auth.SessionCookie {
			h.Set("Cookie", c.Name+"="+c.Value)
		}
	}
	if h.Get("Cookie") == "" {
		t.Fatal("no session cookie in the browser")
	}
	var s ownerSettings
	if code := getJSON(t, base+"/api/rooms/"+roomID+"/settings", h, &s); code != http.StatusOK {
		t.Fatalf("settings as the owner: %d", code)
	}
	if s.Access != "restricted" || s.RetainDays != 30 || s.RetainRec != 7 || len(s.Members) != 1 || s.Members[0].Email != "grace.hopper@example.org" || s.Members[0].Role != "moderator" {
		t.Errorf("the server has %+v", s)
	}
	if code := getJSON(t, base+"/api/rooms/"+roomID+"/settings", http.Header{}, &s); code != http.StatusNotFound {
		t.Errorf("settings without the session: %d, want 404", code)
	}

	// Escape closes the dialog and gives the focus back to its button.
	b.do(t, chromedp.KeyEvent("\x1b"))
	b.waitJS(t, 5*time.Second, "the dialog closed, the focus on its button",
		`!document.querySelector('#room-settings-dialog').open && document.activeElement.dataset.roomSettings === `+jsString(roomID), `document.activeElement.outerHTML`)

	// On the room's page the name is the provider's, not to be edited.
	b.navigate(t, base+"/"+roomID)
	b.waitJS(t, 10*time.Second, "the signed-in pre-join page",
		`document.querySelector('#display-name').readOnly && document.querySelector('#display-name').value === `+jsString(oidcop.Name)+
			` && document.querySelector('#display-name-account').textContent.startsWith(`+jsString("Signed in as "+oidcop.Name)+`) && `+visible("#sign-out"),
		`({name: document.querySelector('#display-name').value, account: document.querySelector('#display-name-account').outerHTML})`)
	// The owner joins under that name and has the room's settings at hand.
	b.click(t, "#join")
	b.waitJS(t, 15*time.Second, "in the meeting, as the owner",
		`!document.querySelector('#meeting').hidden && document.querySelector('#grid .tile--self [data-participant-name]')?.textContent.includes(`+jsString(oidcop.Name)+`) && `+visible("#room-settings"),
		`({status: document.querySelector('#join-status').textContent, self: document.querySelector('#grid .tile--self')?.textContent})`)
	b.click(t, "#room-settings")
	b.waitJS(t, 10*time.Second, "the settings dialog in the meeting", `document.querySelector('#room-settings-dialog').open && document.querySelector('#rs-access-restricted').checked &&
		document.querySelectorAll('#rs-members input').length === 1 && document.querySelector('#rs-retain').value === '30'`, `({error: document.querySelector('#rs-error')?.textContent})`)
	b.click(t, "#rs-close")

	// A guest (another browser, not signed in) is not on the member list:
	// they knock; the owner sees them marked as a guest and admits them;
	// both then see the guest tag on the tile and in the participant list.
	g := newBrowser(t, "gus", browserOptions{noDevices: true})
	g.navigate(t, base+"/"+roomID)
	g.waitJS(t, 10*time.Second, "the guest's pre-join page", visible("#display-name-account")+` && !document.querySelector('#display-name').readOnly`, "")
	knock(t, g, "Gus Guest")
	b.waitJS(t, 10*time.Second, "the guest waiting, counted", `document.querySelector('#lobby-toggle').dataset.count === '1'`, "")
	b.openPanel(t, "lobby")
	b.waitJS(t, 5*time.Second, "the guest marked in the lobby panel",
		`(() => { const e = document.querySelector('#lobby-list [data-lobby-entry]'); return !!e && e.dataset.guest === 'true' && e.textContent.includes('Gus Guest') && e.textContent.includes('Guest'); })()`,
		`document.querySelector('#lobby-list').outerHTML`)
	b.click(t, "#lobby-list [data-lobby-admit]")
	g.waitJS(t, 15*time.Second, "the guest in the meeting, marked on their own tile",
		`!document.querySelector('#meeting').hidden && document.querySelector('#grid .tile--self')?.dataset.guest === 'true'`,
		`({status: document.querySelector('#join-status').textContent, self: document.querySelector('#grid .tile--self')?.outerHTML})`)
	b.waitJS(t, 10*time.Second, "the guest's tile and list entry marked at the owner's",
		`(() => { const tile = [...document.querySelectorAll('#grid .tile:not(.tile--self)')].find(e => e.textContent.includes('Gus Guest'));
			const li = [...document.querySelectorAll('#participants-list [data-participant-entry]')].find(e => e.textContent.includes('Gus Guest'));
			const me = [...document.querySelectorAll('#participants-list [data-participant-entry]')].find(e => e.textContent.includes(`+jsString(oidcop.Name)+`));
			return !!tile && tile.dataset.guest === 'true' && !!li && li.dataset.guest === 'true' && /Guest/.test(li.querySelector('.person__name').textContent)
				&& !!me && me.dataset.guest === 'false'; })()`,
		`document.querySelector('#participants-list').outerHTML`)
	g.click(t, "#leave")

	b.click(t, "#leave")
	b.navigate(t, base+"/")
	b.click(t, "#sign-out")
	b.waitJS(t, 15*time.Second, "home again, signed out", `location.href === `+jsString(base+"/")+` && `+visible("#sign-in")+` && !document.querySelector('#account-name')`,
		`({href: location.href, account: document.querySelector('#account')?.textContent})`)
	if p := b.pageProblems(t); len(p) > 0 {
		t.Fatalf("page problems: %v", p)
	}
}

// TestBrowserRoomsOpenMode: without sign-in, a browser creates a room with
// settings; it is in My rooms (from the creator token this browser keeps),
// its settings dialog loads and saves with that token, from the home page
// and from the meeting; another browser does not list it.
func TestBrowserRoomsOpenMode(t *testing.T) {
	srv, _ := startServer(t)
	base := srv.URL()
	b := newBrowser(t, "owner", browserOptions{noDevices: true})
	const roomID = "open-planning-room"

	b.navigate(t, base+"/")
	b.waitJS(t, 10*time.Second, "create buttons, no sign-in, no rooms",
		visible("#new-meeting")+` && `+visible("#new-room")+` && `+visible("#my-rooms-empty")+` && !document.querySelector('#sign-in') && !document.querySelector('#account').firstChild`, "")
	b.click(t, "#new-room")
	b.waitJS(t, 5*time.Second, "the form: public or restricted, and what restricted means here",
		`document.querySelector('#new-room-dialog').open && !document.querySelector('#nr-access-trusted') && document.querySelector('#nr-access-public').checked &&
			/Everyone knocks, you let them in/.test(document.querySelector('#nr-access-restricted-hint').textContent)`, "")
	// A name the server would refuse is refused before asking it.
	b.do(t, chromedp.SendKeys(chromedp.CSS("#new-room-name"), "short"))
	b.click(t, "#new-room-create")
	b.waitJS(t, 5*time.Second, "the name error", `!document.querySelector('#new-room-name-error').hidden && document.activeElement.id === 'new-room-name' &&
		document.querySelector('#new-room-name').getAttribute('aria-invalid') === 'true'`, "")
	evalJS[chromedp.Void](t, b, `document.querySelector('#new-room-name').value = ''`)
	b.do(t, chromedp.SendKeys(chromedp.CSS("#new-room-name"), roomID))
	b.click(t, "#nr-access-restricted")
	b.click(t, "#nr-locked")
	b.click(t, "#new-room-create")
	row := `#my-rooms-list [data-room-id="` + roomID + `"]`
	b.waitJS(t, 10*time.Second, "the room in My rooms", `!document.querySelector('#new-room-dialog').open && document.querySelector(`+jsString(row)+`)`,
		`({error: document.querySelector('#new-room-error').textContent, list: document.querySelector('#my-rooms').textContent})`)
	token := evalJS[string](t, b, `JSON.parse(localStorage.getItem('parley.creator.`+roomID+`'))`)
	if len(token) < 20 {
		t.Fatalf("creator token %q", token)
	}

	b.click(t, `[data-room-settings="`+roomID+`"]`)
	b.waitJS(t, 10*time.Second, "the settings dialog, loaded with the creator token",
		`document.querySelector('#rs-access-restricted').checked && document.querySelector('#rs-locked').checked && !document.querySelector('#rs-speak').checked &&
			!document.querySelector('#rs-members') && !document.querySelector('#rs-save').disabled && document.querySelector('#rs-audit tr[data-audit-action=room_created]')`,
		`({error: document.querySelector('#rs-error')?.textContent})`)
	b.click(t, "#rs-speak")
	b.click(t, "#rs-save")
	b.waitJS(t, 10*time.Second, "saved, and in the audit log",
		`document.querySelector('#rs-status').textContent === 'Settings saved.' && [...document.querySelectorAll('#rs-audit tr[data-audit-action=settings]')].some(r => /speak_moderated=true/.test(r.textContent))`,
		`({error: document.querySelector('#rs-error').textContent, audit: document.querySelector('#rs-audit').textContent})`)
	// The audit log's download: the whole log as a JSON file.
	dir := t.TempDir()
	ctx, cancel := b.timeout(15 * time.Second)
	_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	b.click(t, "#rs-audit-download")
	var rows []struct{ Action, Detail string }
	for deadline := time.Now().Add(10 * time.Second); ; {
		raw, err := os.ReadFile(filepath.Join(dir, roomID+"-audit.json"))
		if err == nil && json.Unmarshal(raw, &rows) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit download: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// (In the store's order: the table sorts, the file is the server's.)
	actions := map[string]string{}
	for _, r := range rows {
		actions[r.Action] = r.Detail
	}
	if len(rows) != 2 || actions["room_created"] != "access=restricted" || !strings.Contains(actions["settings"], "speak_moderated=true") {
		t.Errorf("downloaded audit log: %+v", rows)
	}

	var s ownerSettings
	if code := getJSON(t, base+"/api/rooms/"+roomID+"/settings", http.Header{"X-Parley-Creator": {token}}, &s); code != http.StatusOK {
		t.Fatalf("settings with the creator token: %d", code)
	}
	if s.Access != "restricted" || !s.Locked || !s.SpeakModerated {
		t.Errorf("the server has %+v", s)
	}
	b.click(t, "#rs-close")

	// In the meeting, the owner has a "Room settings" button.
	b.navigate(t, base+"/"+roomID)
	b.do(t, chromedp.WaitVisible(chromedp.CSS("#display-name")))
	if evalJS[bool](t, b, `!document.querySelector('#display-name-account').hidden || !!document.querySelector('#sign-in')`) {
		t.Error("open mode shows sign-in on the pre-join page")
	}
	enter(t, b, "Olivia Owner")
	b.waitJS(t, 10*time.Second, "the owner's Room settings button", visible("#room-settings"), "")
	b.click(t, "#room-settings")
	b.waitJS(t, 10*time.Second, "the settings dialog in the meeting",
		`document.querySelector('#room-settings-dialog').open && document.querySelector('#rs-speak').checked && !document.querySelector('#rs-save').disabled`,
		`({error: document.querySelector('#rs-error')?.textContent})`)
	b.do(t, chromedp.KeyEvent("\x1b"))
	b.waitJS(t, 5*time.Second, "closed, focus back on the button", `!document.querySelector('#room-settings-dialog').open && document.activeElement.id === 'room-settings'`, "")
	// On a small phone the button is still on screen.
	b.do(t, chromedp.EmulateViewport(320, 640))
	b.waitJS(t, 5*time.Second, "the button on a 320 px screen", `window.innerWidth === 320 && (() => {
		const r = document.querySelector('#room-settings').getBoundingClientRect();
		return r.width > 0 && r.left >= 0 && r.right <= 320 && document.documentElement.scrollWidth <= 320; })()`,
		`({rect: document.querySelector('#room-settings').getBoundingClientRect().toJSON(), scroll: document.documentElement.scrollWidth})`)
	b.do(t, chromedp.ResetViewport())
	if p := b.pageProblems(t); len(p) > 0 {
		t.Errorf("page problems: %v", p)
	}

	// Another browser holds no token: it lists nothing.
	other := newBrowser(t, "other", browserOptions{noDevices: true})
	other.navigate(t, base+"/")
	other.waitJS(t, 10*time.Second, "an empty room list", visible("#my-rooms-empty")+` && document.querySelectorAll('#my-rooms-list li').length === 0`,
		`document.querySelector('#my-rooms').textContent`)
	if strings.Contains(evalJS[string](t, other, `document.body.textContent`), roomID) {
		t.Error("another browser lists the room")
	}
}
