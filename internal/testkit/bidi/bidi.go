// Package bidi drives Firefox for the browser tests over WebDriver BiDi
// (the W3C protocol Firefox serves itself with --remote-debugging-port):
// a fresh profile whose preferences keep every request on this machine,
// fake camera and microphone, no permission prompts; navigate, evaluate
// JavaScript, inject a script before every page's own, and collect the
// console's errors.
package bidi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Options starts a Firefox.
type Options struct {
	Binary string // firefox-esr when empty
	Dir    string // for the profile (a test's temp dir)
	// Display is an X display (Xvfb) to run with one, for what headless
	// Firefox refuses (screen capture); empty: headless.
	Display string
	// Prefs are added to the profile's (fake devices, loopback ICE,
	// nothing sent off the machine).
	Prefs map[string]any
	// Lang is the browser's language (en by default).
	Lang string
}

// Browser is one Firefox process and its BiDi session.
type Browser struct {
	cmd     *exec.Cmd
	conn    *websocket.Conn
	context string // the top-level browsing context
	nextID  atomic.Int64

	mu      sync.Mutex
	waiting map[int64]chan reply
	console []string
	done    chan struct{}
	err     error
	stderr  *tail
}

type reply struct {
	Type    string          `json:"type"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
}

// basePrefs keep Firefox quiet and local: no updates, telemetry,
// experiments, safe-browsing lists, captive-portal checks or remote
// settings, and any request that would leave the machine anyway goes to
// a proxy on a closed loopback port; media from fake devices without
// prompts; ICE on loopback with real host addresses (not mDNS names).
var basePrefs = map[string]any{
	"media.navigator.streams.fake":                      true,
	"media.navigator.permission.disabled":               true,
	"media.peerconnection.ice.loopback":                 true,
	"media.peerconnection.ice.obfuscate_host_addresses": false,
	"media.peerconnection.ice.force_interface":          "lo",
	"media.autoplay.default":                            0,
	"media.autoplay.blocking_policy":                    0,
	"network.proxy.type":                                1,
	"network.proxy.http":                                "127.0.0.1",
	"network.proxy.http_port":                           1,
	"network.proxy.ssl":                                 "127.0.0.1",
	"network.proxy.ssl_port":                            1,
	"network.proxy.no_proxies_on":                       "localhost, 127.0.0.1, ::1",
	"network.proxy.allow_hijacking_localhost":           false,
	"network.captive-portal-service.enabled":            false,
	"network.connectivity-service.enabled":              false,
	"network.dns.disablePrefetch":                       true,
	"network.prefetch-next":                             false,
	"app.update.enabled":                                false,
	"app.normandy.enabled":                              false,
	"browser.shell.checkDefaultBrowser":                 false,
	"browser.safebrowsing.malware.enabled":              false,
	"browser.safebrowsing.phishing.enabled":             false,
	"browser.safebrowsing.downloads.enabled":            false,
	"browser.search.update":                             false,
	"datareporting.policy.dataSubmissionEnabled":        false,
	"datareporting.healthreport.uploadEnabled":          false,
	"toolkit.telemetry.enabled":                         false,
	"toolkit.telemetry.unified":                         false,
	"services.settings.server":                          "http://127.0.0.1:1/v1",
	"messaging-system.rsexperimentloader.enabled":       false,
	"extensions.update.enabled":                         false,
	"extensions.getAddons.cache.enabled":                false,
	"dom.push.enabled":                                  false,
	"browser.newtabpage.enabled":                        false,
	"browser.startup.page":                              0,
	"intl.accept_languages":                             "en",
}

var listening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// Start launches Firefox with a new profile and opens a BiDi session.
func Start(ctx context.Context, o Options) (*Browser, error) {
	if o.Binary == "" {
		o.Binary = "firefox-esr"
	}
	profile := filepath.Join(o.Dir, "firefox-profile")
	if err := os.MkdirAll(profile, 0o700); err != nil {
		return nil, err
	}
	prefs := map[string]any{}
	for k, v := range basePrefs {
		prefs[k] = v
	}
	if o.Lang != "" {
		prefs["intl.accept_languages"] = o.Lang
	}
	for k, v := range o.Prefs {
		prefs[k] = v
	}
	var userJS strings.Builder
	for k, v := range prefs {
		b, _ := json.Marshal(v)
		fmt.Fprintf(&userJS, "user_pref(%q, %s);\n", k, b)
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(userJS.String()), 0o600); err != nil {
		return nil, err
	}
	args := []string{"--no-remote", "--profile", profile, "--remote-debugging-port", "0"}
	env := os.Environ()
	if o.Display == "" {
		args = append([]string{"--headless"}, args...)
	} else {
		env = append(env, "DISPLAY="+o.Display)
	}
	cmd := exec.Command(o.Binary, append(args, "about:blank")...)
	cmd.Env = append(env, "MOZ_CRASHREPORTER_DISABLE=1", "MOZ_DISABLE_AUTO_SAFE_MODE=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bidi: start %s: %w", o.Binary, err)
	}
	b := &Browser{cmd: cmd, waiting: map[int64]chan reply{}, done: make(chan struct{}), stderr: &tail{}}
	url := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			b.stderr.add(line)
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case url <- m[1]:
				default:
				}
			}
		}
	}()
	var ws string
	select {
	case ws = <-url:
	case <-time.After(60 * time.Second):
		b.kill()
		return nil, fmt.Errorf("bidi: firefox did not listen within 60 s:\n%s", b.stderr)
	case <-ctx.Done():
		b.kill()
		return nil, ctx.Err()
	}
	conn, _, err := websocket.Dial(ctx, ws+"/session", nil)
	if err != nil {
		b.kill()
		return nil, fmt.Errorf("bidi: connect: %w", err)
	}
	conn.SetReadLimit(64 << 20)
	b.conn = conn
	go b.read()
	if _, err := b.Call(ctx, "session.new", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{"acceptInsecureCerts": true}}}); err != nil {
		b.Close()
		return nil, err
	}
	if _, err := b.Call(ctx, "session.subscribe", map[string]any{"events": []string{"log.entryAdded"}}); err != nil {
		b.Close()
		return nil, err
	}
	raw, err := b.Call(ctx, "browsingContext.getTree", map[string]any{"maxDepth": 0})
	if err != nil {
		b.Close()
		return nil, err
	}
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	if err := json.Unmarshal(raw, &tree); err != nil || len(tree.Contexts) == 0 {
		b.Close()
		return nil, fmt.Errorf("bidi: no browsing context: %v %s", err, raw)
	}
	b.context = tree.Contexts[0].Context
	return b, nil
}

func (b *Browser) read() {
	defer close(b.done)
	for {
		_, data, err := b.conn.Read(context.Background())
		if err != nil {
			b.mu.Lock()
			b.err = err
			for id, ch := range b.waiting {
				close(ch)
				delete(b.waiting, id)
			}
			b.mu.Unlock()
			return
		}
		var m struct {
			ID     *int64          `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			reply
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		if m.ID == nil {
			if m.Method == "log.entryAdded" {
				var e struct {
					Level string `json:"level"`
					Text  string `json:"text"`
				}
				json.Unmarshal(m.Params, &e)
				if e.Level == "error" {
					b.mu.Lock()
					b.console = append(b.console, e.Text)
					b.mu.Unlock()
				}
			}
			continue
		}
		b.mu.Lock()
		ch := b.waiting[*m.ID]
		delete(b.waiting, *m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m.reply
		}
	}
}

// Call sends one command and waits for its result.
func (b *Browser) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	id := b.nextID.Add(1)
	ch := make(chan reply, 1)
	b.mu.Lock()
	if b.err != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("bidi: connection lost: %w", b.err)
	}
	b.waiting[id] = ch
	b.mu.Unlock()
	msg, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err := b.conn.Write(ctx, websocket.MessageText, msg); err != nil {
		return nil, fmt.Errorf("bidi: %s: %w", method, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("bidi: %s: connection lost", method)
		}
		if r.Type == "error" {
			return nil, fmt.Errorf("bidi: %s: %s: %s", method, r.Error, r.Message)
		}
		return r.Result, nil
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.waiting, id)
		b.mu.Unlock()
		return nil, fmt.Errorf("bidi: %s: %w", method, ctx.Err())
	}
}

// Preload runs src in every page before its own scripts.
func (b *Browser) Preload(ctx context.Context, src string) error {
	_, err := b.Call(ctx, "script.addPreloadScript", map[string]any{"functionDeclaration": "() => {\n" + src + "\n}"})
	return err
}

// Navigate loads url and waits until the page has loaded.
func (b *Browser) Navigate(ctx context.Context, url string) error {
	_, err := b.Call(ctx, "browsingContext.navigate", map[string]any{"context": b.context, "url": url, "wait": "complete"})
	return err
}

// Eval evaluates a JavaScript expression (a promise is awaited) and
// decodes its value, passed through JSON, into out (when not nil).
func (b *Browser) Eval(ctx context.Context, expr string, out any) error {
	raw, err := b.Call(ctx, "script.evaluate", map[string]any{
		"expression":   "(async () => JSON.stringify(await (" + expr + ")))()",
		"target":       map[string]any{"context": b.context},
		"awaitPromise": true,
	})
	if err != nil {
		return err
	}
	var r struct {
		Type             string `json:"type"`
		Result           struct{ Type, Value json.RawMessage }
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	if r.Type == "exception" {
		return fmt.Errorf("bidi: %s", r.ExceptionDetails.Text)
	}
	var s string
	if err := json.Unmarshal(r.Result.Value, &s); err != nil {
		return fmt.Errorf("bidi: %s is not JSON-able: %s", expr, raw)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal([]byte(s), out)
}

// SetViewport resizes the page's viewport (CSS pixels).
func (b *Browser) SetViewport(ctx context.Context, width, height int) error {
	_, err := b.Call(ctx, "browsingContext.setViewport", map[string]any{"context": b.context,
		"viewport": map[string]any{"width": width, "height": height}})
	return err
}

// Click moves the mouse to (x, y), CSS pixels of the viewport, and
// presses its button: a real user gesture (what getDisplayMedia needs).
func (b *Browser) Click(ctx context.Context, x, y int) error {
	_, err := b.Call(ctx, "input.performActions", map[string]any{"context": b.context, "actions": []any{map[string]any{
		"type": "pointer", "id": "mouse", "parameters": map[string]any{"pointerType": "mouse"},
		"actions": []any{
			map[string]any{"type": "pointerMove", "x": x, "y": y},
			map[string]any{"type": "pointerDown", "button": 0},
			map[string]any{"type": "pointerUp", "button": 0},
		}}}})
	return err
}

// Console returns the errors the console logged so far.
func (b *Browser) Console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// Stderr is the end of Firefox's own output, for a failure's report.
func (b *Browser) Stderr() string { return b.stderr.String() }

// Close ends the session and the process.
func (b *Browser) Close() {
	if b.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b.Call(ctx, "browser.close", map[string]any{})
		cancel()
		b.conn.CloseNow()
	}
	b.kill()
}

func (b *Browser) kill() {
	if b.cmd.Process == nil {
		return
	}
	exited := make(chan struct{})
	go func() {
		b.cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-exited
	}
}

// ErrNoFirefox is returned by Find when no Firefox is installed.
var ErrNoFirefox = errors.New("bidi: firefox-esr is not installed (scripts/setup-debian.sh installs it)")

// Find returns the Firefox binary's path.
func Find() (string, error) {
	for _, name := range []string{"firefox-esr", "firefox"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoFirefox
}

// tail keeps the last lines of a stream.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(line string) {
	t.mu.Lock()
	t.lines = append(t.lines, line)
	if len(t.lines) > 50 {
		t.lines = t.lines[len(t.lines)-50:]
	}
	t.mu.Unlock()
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
