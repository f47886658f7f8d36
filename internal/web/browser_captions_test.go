package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/devset"
)

// TestBrowserCaptions is live transcription in the browser, against a server with
// the embedded recogniser (pocketsphinx). Leo joins, his microphone
// marked in the pre-join page as shared by three people, and turns the
// transcription on; Ruth, whose fake microphone plays her lines of a dev
// meeting, is told on the pre-join page that the meeting is transcribed
// and joins. Leo sees her captions with her name and her words; hiding
// them stops the server sending them; her opt-out stops them and shows in
// Leo's participant list; the transcript downloads, during the meeting and
// from the end screen, carry her name.
func TestBrowserCaptions(t *testing.T) {
	wav, words := speakerWAV(t, "dev-s-en-01", "ruth")
	srv, _ := startServerWith(t, func(c *config.Config) {
		c.Speech.Engine = "pocketsphinx"
		c.Speech.Streams = 2
	})
	base := srv.URL()
	t0 := time.Now()

	// A name with markup: it must show as typed, everywhere.
	const ruthName, leoName = "Ruth <i>Ellis</i>", "Leo Martin"
	var leo, ruth *browser
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		leo = newBrowser(t, "Leo", browserOptions{audio: silentWAV(t)})
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		ruth = newBrowser(t, "Ruth", browserOptions{audio: wav})
	}()
	<-done
	<-done
	if leo == nil || ruth == nil {
		t.Fatal("a browser did not start")
	}
	t.Logf("browsers started in %v", time.Since(t0))
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, b := range []*browser{leo, ruth} {
			p := filepath.Join(t.ArtifactDir(), "captions-"+strings.ToLower(b.name)+".png")
			if err := b.screenshot(p); err == nil {
				t.Logf("screenshot: %s", p)
			}
		}
	})
	roomURL := base + "/captions-test"
	var leoID, ruthID string
	wordsJS := jsString(strings.Join(words, " "))

	t.Run("shared microphone chosen before joining", func(t *testing.T) {
		leo.navigate(t, roomURL)
		leo.click(t, "#prejoin-shared-mic")
		leo.do(t, chromedp.WaitVisible(chromedp.CSS("#prejoin-speakers")))
		evalJS[chromedp.Void](t, leo, `(() => { const c = document.querySelector('#prejoin-speakers'); c.value = '3'; c.dispatchEvent(new Event('change')); })()`)
		// Nothing is transcribed yet: no notice.
		if evalJS[bool](t, leo, `!document.querySelector('#prejoin-transcription').hidden`) {
			t.Error("the pre-join page says the new meeting is transcribed")
		}
		leoID = enter(t, leo, leoName)
		leo.waitJS(t, 10*time.Second, "the microphone published as shared by 3",
			`__sent.some(m => m.type === 'publish' && m.source === 'microphone' && m.shared_mic === true && m.speakers === 3)`,
			`__sent.filter(m => m.type === 'publish')`)
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("transcription turned on shows the indicator", func(t *testing.T) {
		if evalJS[bool](t, leo, `document.querySelector('#transcription-toggle').getAttribute('aria-pressed') !== 'false' || document.querySelector('#transcription-toggle').hasAttribute('aria-disabled')`) {
			t.Fatal("the transcription control is not an available, unpressed toggle")
		}
		leo.click(t, "#transcription-toggle")
		leo.waitJS(t, 10*time.Second, "transcription on at Leo", indicatorOn, indicatorState)
		if got := evalJS[string](t, leo, `JSON.stringify(__sent.filter(m => m.type === 'transcription'))`); got != `[{"type":"transcription","enabled":true}]` {
			t.Errorf("Leo sent %s", got)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("the newcomer is told before and after joining", func(t *testing.T) {
		ruth.navigate(t, roomURL)
		ruth.waitJS(t, 10*time.Second, "the pre-join transcription notice and opt-out",
			`!document.querySelector('#prejoin-transcription').hidden && /transcribed/.test(document.querySelector('#prejoin-transcription').textContent) && !document.querySelector('#prejoin-opt-out-row').hidden`, "")
		ruthID = enter(t, ruth, ruthName)
		ruth.waitJS(t, 10*time.Second, "transcription on at Ruth, with a notice", indicatorOn+` && /This meeting is being transcribed/.test(document.querySelector('#toasts').textContent)`,
			`({indicator: `+indicatorState+`, toasts: document.querySelector('#toasts').textContent})`)
		// Leo's microphone is shown as shared on his tile.
		ruth.waitJS(t, 10*time.Second, "Leo's tile shows his shared microphone",
			fmt.Sprintf(`(() => { const x = document.querySelector('#grid [data-participant-id=%s]'); const s = x && x.querySelector('.tile__shared');
				return x.dataset.sharedMic === '3' && !s.hidden && s.getAttribute('aria-label') === 'Shared microphone, 3 people'; })()`, jsString(leoID)), "")
	})
	if t.Failed() {
		t.FailNow()
	}

	ruthCaption := fmt.Sprintf(`[...document.querySelectorAll('#captions [data-caption]')].some(c => {
		const words = new Set(%s.split(' '));
		return c.dataset.speaker === %s && c.querySelector('.caption__speaker').textContent === %s &&
			c.querySelector('.caption__text').textContent.toLowerCase().split(/[^a-z']+/).some(w => words.has(w)); })`,
		wordsJS, jsString(ruthID), jsString(ruthName))
	captionsNow := `[...document.querySelectorAll('#captions [data-caption]')].map(c => c.dataset.speaker + ' ' + c.textContent)`

	t.Run("captions show the speaker's name and words", func(t *testing.T) {
		// Partials are replaced in place, and by their final: never two
		// unfinished lines of one speaker, and only finals are read out.
		evalJS[chromedp.Void](t, leo, `(() => { window.__maxPartials = 0; window.__badAria = 0;
			new MutationObserver(() => {
				const lines = [...document.querySelectorAll('#captions [data-caption]')];
				const partials = {};
				for (const l of lines) {
					if (l.dataset.final === 'false') partials[l.dataset.speaker] = (partials[l.dataset.speaker] || 0) + 1;
					if ((l.dataset.final === 'false') !== (l.getAttribute('aria-hidden') === 'true')) window.__badAria++;
				}
				window.__maxPartials = Math.max(window.__maxPartials, ...Object.values(partials), 0);
			}).observe(document.querySelector('#captions-list'), {childList: true, subtree: true, characterData: true}); })()`)
		leo.waitJS(t, 45*time.Second, "Ruth's words in Leo's captions", `!document.querySelector('#captions').hidden && `+ruthCaption,
			`({captions: `+captionsNow+`, received: __captions.slice(-5)})`)
		// Two utterances: the second's partials come after the first's final.
		leo.waitJS(t, 30*time.Second, "two final captions of Ruth, the last shown",
			fmt.Sprintf(`__captions.filter(c => c.final && c.text && c.speaker_id === %[1]s).length >= 2 && document.querySelector('#captions [data-caption][data-final=true][data-speaker=%[1]s]')`, jsString(ruthID)),
			`({captions: `+captionsNow+`, received: __captions.slice(-5)})`)
		if n := evalJS[int](t, leo, `__maxPartials`); n > 1 {
			t.Errorf("up to %d unfinished caption lines of one speaker at once", n)
		}
		if n := evalJS[int](t, leo, `__badAria`); n > 0 {
			t.Errorf("%d times a partial caption was exposed to screen readers or a final one hidden", n)
		}
		if n := evalJS[int](t, leo, `document.querySelectorAll('#captions i, #captions b').length`); n != 0 {
			t.Errorf("%d elements made from a name's markup in the captions", n)
		}
		if evalJS[string](t, leo, `document.querySelector('#captions').getAttribute('aria-live')`) != "polite" {
			t.Error("#captions is not a polite live region")
		}
		t.Logf("Leo's captions after %v: %s", time.Since(t0), evalJS[string](t, leo, `JSON.stringify(`+captionsNow+`)`))
		if path := os.Getenv("PARLEY_CAPTIONS_SCREENSHOT"); path != "" {
			// For docs/: live captions and the "transcription on" indicator.
			leo.waitJS(t, 20*time.Second, "two caption lines", `document.querySelectorAll('#captions [data-caption]').length >= 2`, "")
			if err := leo.screenshot(path); err != nil {
				t.Errorf("screenshot: %v", err)
			}
			t.Logf("wrote %s", path)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("phone width keeps the indicator and captions in sight", func(t *testing.T) {
		ruth.do(t, chromedp.EmulateViewport(320, 640))
		defer ruth.do(t, chromedp.ResetViewport())
		ruth.waitJS(t, 5*time.Second, "the phone layout", `window.innerWidth === 320`, "")
		time.Sleep(300 * time.Millisecond) // one layout pass
		report := evalJS[map[string]any](t, ruth, `(() => {
			const inside = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= innerHeight; };
			const rec = document.querySelector('#transcription-indicator .rec');
			const text = rec && [...rec.querySelectorAll('.rec__text')].find((e) => e.getClientRects().length > 0);
			// Its words whole, not cut short by an ellipsis.
			return {scroll: document.documentElement.scrollWidth, indicator: !!text && inside(rec) && text.textContent.length > 5 && text.scrollWidth <= text.clientWidth,
				bar: [...document.querySelectorAll('.meeting__bar button, .controls button')].filter(e => e.getClientRects().length > 0 && !e.closest('[hidden]')).every(inside),
				captions: inside(document.querySelector('#captions'))};
		})()`)
		if report["scroll"].(float64) > 320 || report["indicator"] != true || report["bar"] != true || report["captions"] != true {
			t.Errorf("at 320 px: %v", report)
		}
		if path := os.Getenv("PARLEY_CAPTIONS_SCREENSHOT"); path != "" {
			ruth.screenshot(strings.TrimSuffix(path, ".png") + "-phone.png")
		}
	})

	t.Run("hidden captions are no longer sent", func(t *testing.T) {
		// The keyboard shortcut hides them, the button shows them again.
		evalJS[chromedp.Void](t, leo, `document.activeElement && document.activeElement.blur()`)
		leo.do(t, chromedp.KeyEvent("l"))
		leo.waitJS(t, 5*time.Second, "captions hidden",
			`document.querySelector('#captions').hidden && document.querySelector('#captions-toggle').getAttribute('aria-pressed') === 'false' && __sent.some(m => m.type === 'captions' && m.enabled === false)`, "")
		time.Sleep(time.Second) // what was on the way
		leo0 := evalJS[int](t, leo, `__recvCount.caption || 0`)
		ruth0 := evalJS[int](t, ruth, `__recvCount.caption || 0`)
		time.Sleep(5 * time.Second)
		leo1 := evalJS[int](t, leo, `__recvCount.caption || 0`)
		ruth1 := evalJS[int](t, ruth, `__recvCount.caption || 0`)
		if leo1 != leo0 {
			t.Errorf("Leo hid the captions but received %d more", leo1-leo0)
		}
		if ruth1 <= ruth0 {
			t.Errorf("Ruth received no caption in 5 s of her own speech (%d): the check above proves nothing", ruth1)
		}
		leo.click(t, "#captions-toggle")
		leo.waitJS(t, 20*time.Second, "captions back", `!document.querySelector('#captions').hidden && document.querySelector('#captions-toggle').getAttribute('aria-pressed') === 'true' && (__recvCount.caption || 0) > `+fmt.Sprint(leo1), "")
	})

	t.Run("opting out stops the speaker's captions", func(t *testing.T) {
		ruth.openPanel(t, "participants")
		ruth.click(t, "#transcription-opt-out")
		ruth.waitJS(t, 5*time.Second, "the opt-out sent", `__sent.some(m => m.type === 'transcription_opt_out' && m.opt_out === true)`, "")
		leo.openPanel(t, "participants")
		// Every control of the transcribed meeting is named for screen
		// readers (the opt-out box, the download and captions buttons…).
		axCheck(t, leo, "transcribed meeting", 12)
		leo.waitJS(t, 5*time.Second, "Ruth not transcribed, in Leo's participant list",
			fmt.Sprintf(`(() => { const e = document.querySelector('#participants-list [data-participant-entry=%s]'); return e && e.dataset.transcriptionOptOut === 'true' && /not transcribed/.test(e.textContent) && e.offsetParent !== null; })()`, jsString(ruthID)),
			`[...document.querySelectorAll('#participants-list li')].map(e => e.textContent)`)
		// The utterance in flight when she opted out may still end: on a
		// busy machine the recogniser's backlog can take several seconds.
		// Wait for 2 s without a caption of hers (at most 20 s: while her
		// captions went on, that quiet would not come), then none may come.
		ruthCaptions := `__captions.filter(c => c.speaker_id === ` + jsString(ruthID) + `).length`
		c0 := evalJS[int](t, leo, ruthCaptions)
		for quietSince, deadline := time.Now(), time.Now().Add(20*time.Second); time.Since(quietSince) < 2*time.Second; {
			if time.Now().After(deadline) {
				t.Fatalf("Ruth's captions went on for 20 s after she opted out (%d)", c0)
			}
			time.Sleep(250 * time.Millisecond)
			if c := evalJS[int](t, leo, ruthCaptions); c != c0 {
				c0, quietSince = c, time.Now()
			}
		}
		time.Sleep(5 * time.Second)
		if c1 := evalJS[int](t, leo, ruthCaptions); c1 != c0 {
			t.Errorf("%d captions of Ruth after she opted out", c1-c0)
		}
		leo.click(t, "#participants-close")
		ruth.click(t, "#participants-close")
	})

	t.Run("the transcript downloads with the speaker's name", func(t *testing.T) {
		leo.waitJS(t, 5*time.Second, "the download button", `!document.querySelector('#transcript-download').hidden`, "")
		leo.click(t, "#transcript-download")
		leo.waitJS(t, 5*time.Second, "the formats menu", `!document.querySelector('#transcript-menu').hidden && document.activeElement.closest('#transcript-menu')`, "")
		links := evalJS[map[string]string](t, leo, `Object.fromEntries([...document.querySelectorAll('#transcript-menu a[data-format]')].map(a => [a.dataset.format, a.getAttribute('href')]))`)
		checkTranscriptLinks(t, base, links, ruthName, words)
		leo.do(t, chromedp.KeyEvent("\x1b"))
		leo.waitJS(t, 5*time.Second, "the menu closed, focus back", `document.querySelector('#transcript-menu').hidden && document.activeElement.id === 'transcript-download'`, "")
	})

	t.Run("shared microphone turned off in the settings", func(t *testing.T) {
		leo.click(t, "#settings")
		leo.click(t, "#settings-shared-mic")
		leo.waitJS(t, 5*time.Second, "shared_mic sent", `__sent.some(m => m.type === 'shared_mic' && m.shared === false && /^TR_/.test(m.track_id))`, `__sent.filter(m => m.type === 'shared_mic')`)
		leo.click(t, "#settings-close")
		ruth.waitJS(t, 5*time.Second, "Leo's tile without the shared microphone",
			fmt.Sprintf(`(() => { const x = document.querySelector('#grid [data-participant-id=%s]'); return !('sharedMic' in x.dataset) && x.querySelector('.tile__shared').hidden; })()`, jsString(leoID)), "")
	})

	t.Run("transcription turned off for everyone", func(t *testing.T) {
		leo.click(t, "#transcription-toggle")
		for _, b := range []*browser{leo, ruth} {
			b.waitJS(t, 10*time.Second, "the indicator gone",
				`document.querySelector('#transcription-indicator').dataset.on === 'false' && !document.querySelector('#transcription-indicator').textContent && document.querySelector('#transcription-toggle').getAttribute('aria-pressed') === 'false' && document.querySelector('#captions').hidden`,
				indicatorState)
		}
	})

	t.Run("the end screen offers the transcript", func(t *testing.T) {
		leo.click(t, "#leave")
		leo.waitJS(t, 10*time.Second, "the transcript on the end screen",
			`!document.querySelector('#ended').hidden && !document.querySelector('#ended-transcript').hidden && document.querySelectorAll('#ended-transcript a[data-format]').length === 8`, "")
		links := evalJS[map[string]string](t, leo, `Object.fromEntries([...document.querySelectorAll('#ended-transcript a[data-format]')].map(a => [a.dataset.format, a.getAttribute('href')]))`)
		checkTranscriptLinks(t, base, links, ruthName, words)
	})

	for _, b := range []*browser{leo, ruth} {
		if p := b.pageProblems(t); len(p) > 0 {
			t.Errorf("%s: page problems:\n%s", b.name, strings.Join(p, "\n"))
		}
	}
	t.Logf("captions test: %v", time.Since(t0))
}

// indicatorOn: the "transcription on" indicator is shown, with its icon
// and words, as a status region, and the toggle says it is on.
const indicatorOn = `(() => { const i = document.querySelector('#transcription-indicator'); const r = i.getBoundingClientRect();
	return i.getAttribute('role') === 'status' && i.dataset.on === 'true' && r.width > 0 && r.top >= 0 && r.bottom <= innerHeight &&
		i.querySelector('svg') && /Transcription on/.test(i.querySelector('.rec__text--long').textContent) &&
		document.querySelector('#transcription-toggle').getAttribute('aria-pressed') === 'true'; })()`

const indicatorState = `({on: document.querySelector('#transcription-indicator').dataset.on, text: document.querySelector('#transcription-indicator').textContent,
	pressed: document.querySelector('#transcription-toggle').getAttribute('aria-pressed'), recv: __recv.filter(m => m.type === 'transcription' || m.type === 'error')})`

// checkTranscriptLinks downloads every format the page links to: each is
// there, and the readable ones name the speaker and hold one of her words.
func checkTranscriptLinks(t *testing.T, base string, links map[string]string, name string, words []string) {
	t.Helper()
	var formats []string
	for f := range links {
		formats = append(formats, f)
	}
	slices.Sort(formats)
	if !slices.Equal(formats, []string{"docx", "json", "md", "odt", "rttm", "srt", "txt", "vtt"}) {
		t.Fatalf("transcript formats offered: %v", formats)
	}
	for _, f := range formats {
		href := links[f]
		if !strings.HasPrefix(href, "/api/meetings/MT_") {
			t.Errorf("%s link %q: not this server's transcript", f, href)
			continue
		}
		resp, err := http.Get(base + href)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Errorf("%s: %d %q", href, resp.StatusCode, resp.Header.Get("Content-Disposition"))
			continue
		}
		text := string(body)
		switch f {
		case "odt", "docx": // ZIPs of XML (LibreOffice opening them is transcript's test)
			if !strings.HasPrefix(text, "PK") || !bytes.Contains(body, []byte("xml")) {
				t.Errorf("%s transcript is not an office document: %q", f, text[:min(len(text), 40)])
			}
		case "txt", "srt", "vtt":
			want := name
			if f == "vtt" { // cue text escapes markup
				want = strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(name)
			}
			if !strings.Contains(text, want) {
				t.Errorf("%s transcript lacks %q:\n%s", f, want, text)
			}
		case "json":
			var tr struct {
				Speakers []struct {
					Name string `json:"name"`
				} `json:"speakers"`
				Segments []struct {
					Speaker string `json:"speaker"`
					Text    string `json:"text"`
				} `json:"segments"`
			}
			if err := json.Unmarshal(body, &tr); err != nil {
				t.Errorf("json transcript: %v", err)
				continue
			}
			var said []string
			for _, s := range tr.Segments {
				said = append(said, s.Text)
			}
			if !slices.ContainsFunc(tr.Speakers, func(s struct {
				Name string `json:"name"`
			}) bool {
				return s.Name == name
			}) || !containsAnyWord(strings.Join(said, " "), words) {
				t.Errorf("json transcript without %q or her words: %s", name, text)
			}
		}
	}
}

var wordRE = regexp.MustCompile(`[a-z']+`)

func containsAnyWord(text string, words []string) bool {
	for _, w := range wordRE.FindAllString(strings.ToLower(text), -1) {
		if slices.Contains(words, w) {
			return true
		}
	}
	return false
}

// speakerWAV writes one dev-set speaker's utterances, cut from their stem
// and joined with 0.8 s pauses (so the recogniser's voice detection cuts
// them, and the first comes quickly), as 16 kHz 16-bit mono WAV.
// Chromium's fake microphone plays it in a loop. It returns the words of
// five letters or more of the speaker's reference transcript: what a
// caption must hold at least one of.
func speakerWAV(t *testing.T, meetingID, speaker string) (string, []string) {
	t.Helper()
	m, err := devset.Get(meetingID)
	if err != nil {
		t.Fatal(err)
	}
	samples, _, err := audiofile.ReadAll(m.Stems[speaker])
	if err != nil {
		t.Fatal(err)
	}
	ref, err := devset.ReadTranscript(m.Transcript)
	if err != nil {
		t.Fatal(err)
	}
	const rate = audiofile.Rate
	var pcm []int16
	var words []string
	for _, s := range ref {
		if s.Speaker != speaker {
			continue
		}
		from, to := max(0, int((s.Start-0.15)*rate)), min(len(samples), int((s.End+0.25)*rate))
		for _, v := range samples[from:to] {
			pcm = append(pcm, int16(math.Max(-1, math.Min(1, float64(v)))*32767))
		}
		pcm = append(pcm, make([]int16, rate*8/10)...)
		for _, w := range wordRE.FindAllString(strings.ToLower(s.Text), -1) {
			if len(w) >= 5 && !slices.Contains(words, w) {
				words = append(words, w)
			}
		}
	}
	if len(pcm) == 0 || len(words) == 0 {
		t.Fatalf("%s has no lines of %s", meetingID, speaker)
	}
	p := filepath.Join(t.TempDir(), speaker+".wav")
	if err := writeWAV(p, rate, pcm); err != nil {
		t.Fatal(err)
	}
	return p, words
}

// silentWAV is a microphone that hears nothing.
func silentWAV(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "silence.wav")
	if err := writeWAV(p, 16000, make([]int16, 32000)); err != nil {
		t.Fatal(err)
	}
	return p
}
