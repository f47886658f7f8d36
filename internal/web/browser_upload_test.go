package web_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/asrtest"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
)

// TestBrowserUpload: from the home page's link, a recording of two voices
// is uploaded on /transcribe; the page shows the upload, then the job,
// then the downloads, whose text is the recording's; a file that is not
// audio gets the message that says so; the transcript is deleted.
func TestBrowserUpload(t *testing.T) {
	srv, _ := startServerWith(t, func(c *config.Config) { c.Speech.Engine, c.Speech.Streams = "pocketsphinx", 1 })
	dir := t.TempDir()
	var pcm []float32
	for _, c := range asrtest.Clips[:2] {
		pcm = append(append(pcm, asrtest.Load(t, c)...), asrtest.Silence(0.8)...)
	}
	wav := filepath.Join(dir, "council.wav")
	if err := meetsynth.WriteWAV(wav, pcm); err != nil {
		t.Fatal(err)
	}
	notAudio := filepath.Join(dir, "notes.wav")
	os.WriteFile(notAudio, []byte("these are minutes, not a recording"), 0o600)

	b := newBrowser(t, "uploader", browserOptions{noDevices: true})
	b.navigate(t, srv.URL()+"/")
	b.click(t, "#transcribe-link")
	b.waitJS(t, 10*time.Second, "the upload form", `location.pathname === '/transcribe' && `+visible("#upload-form")+` && document.querySelector('h1').textContent === 'Transcribe a recording'`, "")
	axCheck(t, b, "upload page", 1)

	b.do(t, chromedp.SetUploadFiles("#upload-file", []string{notAudio}))
	b.click(t, "#upload-start")
	b.waitJS(t, 10*time.Second, "the not-audio message", `!document.querySelector('#upload-error').hidden && /not a recording Parley can read/.test(document.querySelector('#upload-error').textContent)`,
		`document.querySelector('#upload-error').textContent`)

	b.do(t, chromedp.SetUploadFiles("#upload-file", []string{wav}))
	b.do(t, chromedp.SendKeys(chromedp.CSS("#upload-speakers"), "2"))
	b.click(t, "#upload-start")
	b.waitJS(t, 60*time.Second, "the transcript ready, with its downloads",
		`document.querySelector('#upload-error').hidden && /Ready/.test(document.querySelector('#upload-status').textContent) && document.querySelector('#upload-progress-title').textContent === 'Transcript of council.wav'
			&& document.querySelectorAll('#upload-links a').length === 8 && !document.querySelector('#upload-delete').hidden`,
		`({status: document.querySelector('#upload-status').textContent, error: document.querySelector('#upload-error').textContent})`)
	text := evalJS[string](t, b, `fetch(document.querySelector('#upload-links a[data-format=txt]').href).then(r => r.text())`)
	if !strings.Contains(text, "SPEAKER_1") || !strings.Contains(text, "SPEAKER_2") || !strings.Contains(text, "forward") {
		t.Fatalf("the downloaded text: %q", text)
	}
	withKey := `(() => { const k = Object.keys(localStorage).find(k => k.includes('key.MT_'));
		return fetch('/api/meetings/' + k.split('key.')[1] + '/transcript?key=' + encodeURIComponent(JSON.parse(localStorage.getItem(k)))).then(r => r.status); })()`
	if code := evalJS[int](t, b, withKey); code != 200 {
		t.Fatalf("the transcript with the kept key answers %d", code)
	}
	evalJS[bool](t, b, `(window.confirm = () => true, true)`)
	b.click(t, "#upload-delete")
	b.waitJS(t, 10*time.Second, "deleted", `document.querySelector('#upload-status').textContent === 'Deleted.' && document.querySelector('#upload-links').hidden`, "")
	// With the key this browser keeps, the transcript is now the 404 of
	// a meeting that does not exist.
	if code := evalJS[int](t, b, withKey); code != 404 {
		t.Fatalf("the deleted transcript answers %d", code)
	}
	if p := b.pageProblems(t); len(p) > 0 {
		t.Fatalf("page problems: %v", p)
	}
}
