package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/record"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/llmtest"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
	"github.com/parleyhq/parley/internal/transcript"
)

// keptMeeting is a finished meeting made for the test: a pion client
// joined it (so a key exists, as a browser would keep), its transcript
// written as the live pipeline would have.
type keptMeeting struct {
	id, key string
	segs    []int64
}

func keepMeeting(t testing.TB, srv *server.Server, roomID, who string, lines ...string) keptMeeting {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, srv.URL(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Join(ctx, roomID, who)
	if err != nil || m.MeetingKey == "" {
		t.Fatalf("join %s: %v %s", roomID, err, m.Raw)
	}
	km := keptMeeting{id: m.MeetingID, key: m.MeetingKey}
	if err := srv.Store.CreateMeeting(ctx, transcript.Meeting{ID: km.id, Title: roomID, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv.Store.AppendEvent(ctx, km.id, transcript.Event{At: 0, Kind: transcript.TranscriptionOn})
	ids := map[string]string{}
	for i, l := range lines {
		spk, text, _ := strings.Cut(l, ": ")
		if ids[spk] == "" {
			ids[spk] = fmt.Sprintf("PA_%c", 'a'+len(ids))
		}
		srv.Store.PutSpeaker(ctx, km.id, transcript.Speaker{ID: ids[spk], Name: spk})
		id, err := srv.Store.AppendSegment(ctx, km.id, transcript.Segment{SpeakerID: ids[spk], Speaker: spk, Start: float64(4*i + 1), End: float64(4*i + 4), Text: text})
		if err != nil {
			t.Fatal(err)
		}
		km.segs = append(km.segs, id)
	}
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, live := srv.Rooms.Room(roomID); !live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still live", roomID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return km
}

// TestBrowserMeetingDocuments: My meetings lists the finished meetings
// whose keys the browser kept; a search finds a sentence of another
// meeting (French elision typed, accents folded) and opens the viewer at
// it; in the viewer the owner renames a speaker (every line, the legend
// and every export change), edits a sentence and undoes it, and finds a
// word; a browser without those keys lists nothing, finds nothing and
// gets "not found" for the meeting's page (the API's 404).
func TestBrowserMeetingDocuments(t *testing.T) {
	llm := llmtest.Start(t)
	srv, _ := startServerWith(t, func(c *config.Config) { c.LLMURL, c.LLMModel = llm.URL, "local-model" })
	council := keepMeeting(t, srv, "council-budget-room", "Ada",
		"SPEAKER_1: Good morning everyone and welcome.",
		"SPEAKER_2: The budget is late by two weeks.",
		"SPEAKER_2: We need a decision today.",
		"SPEAKER_1: Let us vote on it.")
	harbour := keepMeeting(t, srv, "harbour-works-room", "Ada",
		"Marc: Passons à l’ordre du jour : les travaux du port.",
		"Inès: Le chantier commence en été.")
	secret := keepMeeting(t, srv, "secret-board-room", "Eve",
		"Eve: The merger with Northwind stays secret; the budget too.")

	b := newBrowser(t, "Ada", browserOptions{noDevices: true})
	b.navigate(t, srv.URL()+"/")
	evalJS[bool](t, b, fmt.Sprintf(`(localStorage.setItem('parley.key.%s', %s), localStorage.setItem('parley.key.%s', %s), localStorage.setItem('parley.lang', '"en"'), true)`,
		council.id, jsString(`"`+council.key+`"`), harbour.id, jsString(`"`+harbour.key+`"`)))

	// My meetings: the two kept, newest first.
	b.navigate(t, srv.URL()+"/meetings")
	b.waitJS(t, 15*time.Second, "two meetings listed",
		`document.querySelectorAll('#meetings-body tr').length === 2 && document.querySelector('#meetings-body tr th').textContent === 'harbour-works-room'`,
		`document.querySelector('#meetings-status').textContent + ' ' + document.querySelector('#meetings-body').textContent`)
	row := evalJS[string](t, b, `[...document.querySelectorAll('#meetings-body tr')[1].children].map(c => c.textContent).join('|')`)
	if !strings.Contains(row, "council-budget-room|") || !strings.Contains(row, "|SPEAKER_1, SPEAKER_2|Final|No") {
		t.Errorf("council row: %q", row)
	}
	axCheck(t, b, "my meetings", 1)

	// Search: the French sentence, typed with an elision and without accents.
	fill(t, b, "#search-q", "l'ordre du JOUR travaux")
	b.click(t, "#search-form button[type=submit]")
	b.waitJS(t, 10*time.Second, "one hit", `document.querySelectorAll('#search-hits li').length === 1`, `document.querySelector('#search-results').textContent`)
	hit := evalJS[string](t, b, `document.querySelector('#search-hits li').textContent + '|' + [...document.querySelectorAll('#search-hits mark')].map(m => m.textContent).join(',')`)
	if !strings.Contains(hit, "Passons à l’ordre du jour") || !strings.Contains(hit, "Marc · harbour-works-room") || !strings.HasSuffix(hit, "|ordre,du,jour,travaux,du") {
		t.Errorf("hit: %q", hit)
	}
	b.click(t, "#search-hits a")
	b.waitJS(t, 15*time.Second, "the viewer at the sentence found",
		fmt.Sprintf(`location.pathname === '/meetings/%s' && document.querySelector('.seg--target') && document.querySelector('.seg--target').id === 's%d'
			&& document.activeElement === document.querySelector('.seg--target')`, harbour.id, harbour.segs[0]),
		`location.href + ' ' + (document.querySelector('#viewer-error').textContent)`)
	// Nothing of a meeting this browser has no key to.
	b.navigate(t, srv.URL()+"/meetings")
	fill(t, b, "#search-q", "budget")
	b.click(t, "#search-form button[type=submit]")
	b.waitJS(t, 10*time.Second, "budget found in the council only", `/^1 result for/.test(document.querySelector('#search-results-title').textContent)`,
		`document.querySelector('#search-results').textContent`)
	if txt := evalJS[string](t, b, `document.querySelector('#search-hits').textContent`); strings.Contains(txt, "Northwind") || !strings.Contains(txt, "late by two weeks") {
		t.Errorf("budget hits: %q", txt)
	}
	docsScreenshot(t, b, "screenshot-meetings.png")

	// The viewer: turns, colours, events, find.
	b.navigate(t, srv.URL()+"/meetings/"+council.id)
	b.waitJS(t, 15*time.Second, "the council transcript", `document.querySelectorAll('#transcript .turn').length === 3 && document.querySelector('#viewer-title').textContent === 'council-budget-room'`,
		`document.querySelector('#viewer-status').textContent + document.querySelector('#viewer-error').textContent`)
	turns := evalJS[string](t, b, `[...document.querySelectorAll('#transcript .turn')].map(s => s.className + ':' + s.querySelector('.turn__name').textContent + ':' + s.querySelector('.turn__text').textContent).join('|')`)
	if turns != "turn spk-0:SPEAKER_1:Good morning everyone and welcome.|turn spk-1:SPEAKER_2:The budget is late by two weeks. We need a decision today.|turn spk-0:SPEAKER_1:Let us vote on it." {
		t.Errorf("turns: %q", turns)
	}
	if ev := evalJS[string](t, b, `document.querySelector('#transcript .event').textContent`); ev != "0:00 Transcription started" {
		t.Errorf("event: %q", ev)
	}
	fill(t, b, "#find-q", "BUDGET")
	b.waitJS(t, 5*time.Second, "one match", `document.querySelector('#find-count').textContent === '1 of 1' && document.querySelector('#transcript mark.current').textContent === 'budget'`,
		`document.querySelector('#find-count').textContent`)
	fill(t, b, "#find-q", "")
	axCheck(t, b, "viewer", 4)
	evalJS[bool](t, b, `(() => { const s = document.querySelector('#language'); s.value = 'fr'; s.dispatchEvent(new Event('change')); return true; })()`)
	b.waitJS(t, 5*time.Second, "the viewer in French", `document.documentElement.lang === 'fr' && document.querySelector('#viewer-meta').textContent.includes('phrases')`, "")
	axeAudit(t, b, "viewer in French")
	evalJS[bool](t, b, `(() => { const s = document.querySelector('#language'); s.value = 'en'; s.dispatchEvent(new Event('change')); return true; })()`)
	b.waitJS(t, 5*time.Second, "the viewer in English", `document.documentElement.lang === 'en'`, "")

	// Rename SPEAKER_2 everywhere.
	b.click(t, `.turn[data-speaker="PA_b"] [data-action=rename]`)
	fill(t, b, "#rename-input", "Claire Dubois")
	b.click(t, `form.rename button[type=submit]`)
	b.waitJS(t, 10*time.Second, "Claire everywhere",
		`[...document.querySelectorAll('.turn__name')].map(n => n.textContent).join(',') === 'SPEAKER_1,Claire Dubois,SPEAKER_1'
			&& [...document.querySelectorAll('#viewer-speakers li')].map(n => n.textContent).join(',') === 'SPEAKER_1,Claire Dubois'`,
		`document.querySelector('#viewer-error').textContent`)
	for _, f := range []string{"txt", "md", "vtt", "srt", "json", "rttm"} {
		body := evalJS[string](t, b, fmt.Sprintf(`fetch(document.querySelector('#viewer-exports a[data-format=%s]').href).then(r => r.text())`, f))
		if !strings.Contains(body, "Claire") || strings.Contains(body, "SPEAKER_2") {
			t.Errorf("%s export after the rename:\n%s", f, body)
		}
	}

	// Edit a sentence, then undo it.
	b.click(t, `.turn[data-speaker="PA_b"] [data-action=edit]`)
	fill(t, b, fmt.Sprintf("#text-%d", council.segs[1]), "The budget is on time.")
	b.click(t, fmt.Sprintf(`#text-%d ~ .edit__actions [data-action=save]`, council.segs[1]))
	b.waitJS(t, 10*time.Second, "the edit saved", `document.querySelector('#viewer-status').textContent === 'Change saved.' && !document.querySelector('#edit-undo').disabled`,
		`document.querySelector('#viewer-error').textContent`)
	b.click(t, `[data-action=done]`)
	b.waitJS(t, 5*time.Second, "the edited sentence", fmt.Sprintf(`document.querySelector('#s%d').textContent === 'The budget is on time.'`, council.segs[1]), "")
	hist := evalJS[string](t, b, `document.querySelector('#edit-history-list').textContent`)
	if !strings.Contains(hist, "Changed “The budget is late by two weeks.” to “The budget is on time.”") || !strings.Contains(hist, "Renamed SPEAKER_2 to Claire Dubois") {
		t.Errorf("history: %q", hist)
	}
	b.click(t, "#edit-undo")
	b.waitJS(t, 10*time.Second, "the edit undone", fmt.Sprintf(`document.querySelector('#s%d') && document.querySelector('#s%d').textContent === 'The budget is late by two weeks.'`, council.segs[1], council.segs[1]),
		`document.querySelector('#viewer-error').textContent`)
	if txt := evalJS[string](t, b, `fetch(document.querySelector('#viewer-exports a[data-format=txt]').href).then(r => r.text())`); !strings.Contains(txt, "Claire Dubois: The budget is late by two weeks.") {
		t.Errorf("txt after the undo:\n%s", txt)
	}
	// The summary, asked for again: each decision and action links to
	// the sentences it cites.
	llm.Script(llmtest.Reply{Content: fmt.Sprintf(`{"summary": "The budget is two weeks late; a decision is due today.",
		"decisions": [{"text": "Decide today", "segments": [%d]}],
		"actions": [{"text": "Put it to a vote", "who": "SPEAKER_1", "when": "", "segments": [%d, 999999]}]}`, council.segs[2], council.segs[3])})
	b.waitJS(t, 5*time.Second, "the summary section", visible("#summary-regenerate")+` && document.querySelector('#summary-state').textContent === 'No summary yet.'`,
		`document.querySelector('#summary').outerHTML`)
	b.click(t, "#summary-regenerate")
	b.waitJS(t, 20*time.Second, "the summary written", `document.querySelector('#summary-text').textContent === 'The budget is two weeks late; a decision is due today.'`,
		`document.querySelector('#summary-state').textContent + document.querySelector('#viewer-error').textContent`)
	items := evalJS[string](t, b, `[...document.querySelectorAll('#summary li')].map(li => li.textContent).join('|')`)
	if items != "Decide today 0:09|Put it to a vote (SPEAKER_1) 0:13" {
		t.Errorf("summary items: %q", items)
	}
	docsScreenshot(t, b, "screenshot-viewer.png")
	b.click(t, "#summary-actions a.cite")
	b.waitJS(t, 5*time.Second, "the cited sentence", fmt.Sprintf(`document.querySelector('.seg--target') && document.querySelector('.seg--target').id === 's%d'`, council.segs[3]), "")
	if reqs := llm.Requests(); len(reqs) != 1 || !strings.Contains(reqs[0].Body.Messages[1].Content, "Claire Dubois") {
		t.Errorf("the model got %d requests: %+v", len(reqs), reqs)
	}

	// At 320 px wide (a phone), nothing scrolls sideways, on either page.
	b.do(t, chromedp.EmulateViewport(320, 640))
	b.waitJS(t, 5*time.Second, "the phone layout", `window.innerWidth === 320`, "")
	for _, page := range []string{"/meetings/" + council.id, "/meetings"} {
		b.navigate(t, srv.URL()+page)
		b.waitJS(t, 10*time.Second, page+" at 320 px", `document.querySelector('#transcript .turn, #meetings-body tr') !== null`, "")
		if w := evalJS[int](t, b, `document.documentElement.scrollWidth`); w > 320 {
			t.Errorf("%s is %d px wide at 320 px: %s", page, w, evalJS[string](t, b, `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 321).map(e => e.tagName + '.' + e.className + '#' + e.id + ':' + Math.round(e.getBoundingClientRect().right)).slice(0, 12).join(' ')`))
		}
	}
	if p := b.pageProblems(t); len(p) > 0 {
		t.Fatalf("page problems: %v", p)
	}

	// Another browser, without those keys: nothing listed, nothing found,
	// the meeting's page says it is not there.
	o := newBrowser(t, "Outsider", browserOptions{noDevices: true})
	o.navigate(t, srv.URL()+"/meetings")
	o.waitJS(t, 15*time.Second, "no meetings", `document.querySelector('#meetings-status').textContent.startsWith('No meetings yet') && document.querySelector('#meetings-table').hidden`,
		`document.querySelector('#meetings-status').textContent`)
	for _, q := range []string{"budget", "merger Northwind", "ordre du jour"} {
		fill(t, o, "#search-q", q)
		o.click(t, "#search-form button[type=submit]")
		o.waitJS(t, 10*time.Second, "nothing found for "+q, fmt.Sprintf(`document.querySelector('#search-results-title').textContent === 'Nothing found for “%s”.'`, q),
			`document.querySelector('#search-results').textContent`)
	}
	for _, id := range []string{council.id, secret.id} {
		o.navigate(t, srv.URL()+"/meetings/"+id)
		o.waitJS(t, 10*time.Second, "not found", `!document.querySelector('#viewer-missing').hidden && document.querySelector('#viewer-doc').hidden && document.querySelector('#transcript').textContent === ''`, "")
		if code := evalJS[int](t, o, fmt.Sprintf(`fetch('/api/meetings/%s/transcript').then(r => r.status)`, id)); code != 404 {
			t.Errorf("the outsider's transcript request: %d", code)
		}
	}
}

// fill sets an input's value as typing would, and tells the page.
func fill(t testing.TB, b *browser, sel, value string) {
	t.Helper()
	evalJS[bool](t, b, `(() => { const e = document.querySelector(`+jsString(sel)+`); e.value = `+jsString(value)+`;
		e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`)
}

// TestBrowserPlayback: a recorded meeting's viewer plays its microphone
// from the sentence clicked, keeps the sentence being heard highlighted,
// and is driven from the keyboard (play/pause button, position slider);
// the audio comes with byte ranges and only to those who may read the
// meeting.
func TestBrowserPlayback(t *testing.T) {
	recDir := t.TempDir()
	srv, _ := startServerWith(t, func(c *config.Config) { c.Recordings = recDir })
	m := keepMeeting(t, srv, "recorded-council-room",
		"Ada: Good morning everyone.", "Ada: The budget is late.", "Ada: We vote now.", "Ada: Thank you all.")
	// Ada's microphone: 20 s of a quiet tone, joined 3 s into the meeting.
	dir := t.TempDir()
	pcm := make([]float32, 20*16000)
	for i := range pcm {
		pcm[i] = 0.1 * float32(math.Sin(2*math.Pi*440*float64(i)/16000))
	}
	wav := filepath.Join(dir, "ada.wav")
	if err := meetsynth.WriteWAV(wav, pcm); err != nil {
		t.Fatal(err)
	}
	ogg := filepath.Join(dir, "ada.ogg")
	if out, err := exec.Command("opusenc", "--quiet", "--bitrate", "24", wav, ogg).CombinedOutput(); err != nil {
		t.Fatalf("opusenc: %v %s", err, out)
	}
	data, _ := os.ReadFile(ogg)
	st := objects.Disk{Dir: recDir}
	st.Put(m.id+"/P1-microphone-1.ogg", data)
	man, _ := json.Marshal(record.Manifest{Version: 1, MeetingID: m.id, Room: "recorded-council-room", Complete: true,
		Files: []record.File{{Name: "P1-microphone-1.ogg", Person: "P1", ParticipantID: "PA_a", ParticipantName: "Ada", Kind: "audio",
			Source: "microphone", Codec: "opus", Format: "ogg", Start: 3, End: 23, Bytes: int64(len(data))}}})
	st.Put(record.ManifestKey(m.id), man)

	b := newBrowser(t, "Ada", browserOptions{noDevices: true})
	b.navigate(t, srv.URL()+"/")
	evalJS[bool](t, b, fmt.Sprintf(`(localStorage.setItem('parley.key.%s', %s), localStorage.setItem('parley.lang', '"en"'), true)`, m.id, jsString(`"`+m.key+`"`)))
	b.navigate(t, srv.URL()+"/meetings/"+m.id)
	b.waitJS(t, 15*time.Second, "the player", visible("#player")+` && document.querySelector('#player-time').textContent === '0:00 / 0:23'`,
		`document.querySelector('#player').outerHTML`)
	axCheck(t, b, "viewer with a recording", 5)

	// Click the third sentence (9 s): the file plays from 6 s.
	b.click(t, fmt.Sprintf("#s%d", m.segs[2]))
	b.waitJS(t, 10*time.Second, "playing from the third sentence",
		fmt.Sprintf(`(() => { const a = document.querySelector('#player-tracks audio'); return !a.paused && a.currentTime > 5.9 && Math.abs(a.currentTime - (Number(document.querySelector('#player').dataset.t) - 3)) < 0.4
			&& document.querySelector('#s%d').classList.contains('seg--playing') && document.querySelector('#player-toggle').getAttribute('aria-pressed') === 'true'; })()`, m.segs[2]),
		`(() => { const a = document.querySelector('#player-tracks audio'); return {paused: a.paused, t: a.currentTime, err: a.error && a.error.message, time: document.querySelector('#player-time').textContent}; })()`)
	// Space on the focused button pauses; the slider moves with the arrow keys.
	evalJS[bool](t, b, `(document.querySelector('#player-toggle').focus(), true)`)
	b.do(t, chromedp.KeyEvent(" "))
	b.waitJS(t, 5*time.Second, "paused", `document.querySelector('#player-tracks audio').paused && document.querySelector('#player-toggle').textContent === 'Play'`, "")
	before := evalJS[string](t, b, `document.querySelector('#player-seek').value`)
	evalJS[bool](t, b, `(document.querySelector('#player-seek').focus(), true)`)
	b.do(t, chromedp.KeyEvent(kb.ArrowRight))
	b.do(t, chromedp.KeyEvent(kb.ArrowRight))
	b.waitJS(t, 5*time.Second, "moved two seconds on", fmt.Sprintf(`Number(document.querySelector('#player-seek').value) === %s + 2`, before), `document.querySelector('#player-seek').value`)

	// The file, by range, to the meeting's readers only.
	ranged := evalJS[string](t, b, fmt.Sprintf(`fetch('/api/meetings/%s/playback/P1-microphone-1.ogg?key=%s', {headers: {Range: 'bytes=0-3'}}).then(async r => r.status + ' ' + await r.text())`, m.id, m.key))
	if ranged != "206 OggS" {
		t.Errorf("a range of the file: %q", ranged)
	}
	for _, path := range []string{"/api/meetings/" + m.id + "/playback/P1-microphone-1.ogg", "/api/meetings/" + m.id + "/playback", "/api/meetings/" + m.id + "/playback/manifest.json?key=" + m.key} {
		resp, err := http.Get(srv.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	if p := b.pageProblems(t); len(p) > 0 {
		t.Fatalf("page problems: %v", p)
	}
}

// docsScreenshot writes the page for docs/web-client.md when
// PARLEY_DOCS_SCREENSHOTS names a folder (the docs folder).
func docsScreenshot(t *testing.T, b *browser, name string) {
	dir := os.Getenv("PARLEY_DOCS_SCREENSHOTS")
	if dir == "" {
		return
	}
	b.do(t, chromedp.EmulateViewport(1100, 1200))
	evalJS[bool](t, b, `(window.scrollTo(0, 0), true)`)
	if err := b.screenshot(filepath.Join(dir, name)); err != nil {
		t.Errorf("screenshot: %v", err)
	}
	t.Logf("wrote %s", filepath.Join(dir, name))
}

// BenchmarkViewerTwoHours: the time from asking for the viewer of a
// two-hour meeting (2 400 sentences of 6 speakers, a sentence every 3 s)
// to every sentence shown, in headless Chromium on this machine; then
// the time to find a common word in it.
//
//	go test -run '^$' -bench ViewerTwoHours -benchtime 5x ./internal/web/
func BenchmarkViewerTwoHours(b *testing.B) {
	srv, _ := startServerWith(b, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	words := strings.Fields("the budget is late we need a decision today let us vote on it thank you everyone next item harbour works start in summer minutes approved report council")
	var lines []string
	for i := range 2400 {
		w := make([]string, 8+rng.IntN(16))
		for j := range w {
			w[j] = words[rng.IntN(len(words))]
		}
		lines = append(lines, fmt.Sprintf("Speaker %d: %s.", i%6+1, strings.Join(w, " ")))
	}
	m := keepMeeting(b, srv, "two-hour-council-room", "Ada", lines...)
	br := newBrowser(b, "Ada", browserOptions{noDevices: true})
	br.navigate(b, srv.URL()+"/")
	evalJS[bool](b, br, fmt.Sprintf(`(localStorage.setItem('parley.key.%s', %s), true)`, m.id, jsString(`"`+m.key+`"`)))
	var open, find time.Duration
	for b.Loop() {
		start := time.Now()
		br.navigate(b, srv.URL()+"/meetings/"+m.id)
		br.waitJS(b, 60*time.Second, "2 400 sentences", `document.querySelectorAll('#transcript .seg').length === 2400`, "")
		open += time.Since(start)
		start = time.Now()
		fill(b, br, "#find-q", "budget")
		br.waitJS(b, 30*time.Second, "the matches", `/ of \d+$/.test(document.querySelector('#find-count').textContent)`, "")
		find += time.Since(start)
	}
	b.ReportMetric(float64(open.Milliseconds())/float64(b.N), "ms/open")
	b.ReportMetric(float64(find.Milliseconds())/float64(b.N), "ms/find")
}
