package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/devset"
)

// bridgePackets is the "bridge" voice of the dev set's dev-r-en-01
// meeting as Opus packets of 20 ms at 32 kb/s (what a browser sends).
func bridgePackets(tb testing.TB) [][]byte {
	tb.Helper()
	m, err := devset.Get("dev-r-en-01")
	if err != nil {
		tb.Fatal(err)
	}
	opus := filepath.Join(tb.TempDir(), "bridge.opus")
	if b, err := exec.Command("opusenc", "--quiet", "--framesize", "20", "--bitrate", "32", m.Stems["bridge"], opus).CombinedOutput(); err != nil {
		tb.Fatalf("opusenc: %v\n%s", err, b)
	}
	pkts, err := client.LoadOggOpus(opus)
	if err != nil {
		tb.Fatal(err)
	}
	return pkts
}

// finalCaptions are the texts of the final captions c has received.
func finalCaptions(c *client.Client) []string {
	var out []string
	for _, msg := range c.Messages() {
		var cp struct {
			Text  string `json:"text"`
			Final bool   `json:"final"`
		}
		if msg.Type == "caption" && json.Unmarshal(msg.Raw, &cp) == nil && cp.Final && cp.Text != "" {
			out = append(out, cp.Text)
		}
	}
	return out
}
