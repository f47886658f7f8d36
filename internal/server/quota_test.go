package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/asrtest"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/meetsynth"
	"github.com/parleyhq/parley/internal/testkit/oidcop"
)

// TestUploadQuota: in oidc mode a signed-in user keeps at most
// --upload-quota bytes of uploads: one that would pass it is refused
// with 413 quota_exceeded (before its body is read when its length is
// announced, nothing kept), another user is not affected, and deleting
// an upload frees its share.
func TestUploadQuota(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	op := oidcop.Start(t, base+auth.CallbackPath, base+"/")
	wav := filepath.Join(t.TempDir(), "clip.wav")
	if err := meetsynth.WriteWAV(wav, append(asrtest.Load(t, asrtest.Clips[0]), asrtest.Silence(0.5)...)); err != nil {
		t.Fatal(err)
	}
	audio, _ := os.ReadFile(wav)
	size := int64(len(audio))
	srv := start(t, func(c *config.Config) {
		c.Listen, c.PublicURL = addr, base
		c.OIDC.Issuer, c.OIDC.ClientID, c.OIDC.ClientSecret = op.Issuer, op.ClientID, op.ClientSecret
		c.Speech.Engine, c.Speech.Streams = "pocketsphinx", 1
		c.UploadQuota = size*2 + size/2 // two uploads fit, not three
	})
	upload := func(h *client.HTTP, body io.Reader, length int64) (int, map[string]any) {
		var sess struct {
			CSRF string `json:"csrf"`
		}
		if err := h.API(context.Background(), "GET", "/api/session", nil, &sess); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", srv.URL()+"/api/transcriptions?name=q", body)
		req.ContentLength = length
		req.Header.Set("Content-Type", "audio/wav")
		req.Header.Set("X-Parley-CSRF", sess.CSRF)
		req.Header.Set("Origin", srv.URL())
		resp, err := h.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	ada := signedIn(t, srv, op.Username)
	var ids []string
	for i := range 2 {
		code, out := upload(ada, bytes.NewReader(audio), size)
		if code != http.StatusAccepted {
			t.Fatalf("upload %d within the quota: %d %v", i+1, code, out)
		}
		ids = append(ids, out["meeting_id"].(string))
	}
	// Announced: refused before the body is read (200 MiB announced, a
	// few MiB sent before the server's answer closes the connection).
	cr := &countingReader{}
	code, out := upload(ada, io.LimitReader(cr, 200<<20), 200<<20)
	if code != http.StatusRequestEntityTooLarge || out["name"] != "quota_exceeded" || !strings.Contains(fmt.Sprint(out["error"]), "delete some") {
		t.Fatalf("the third upload: %d %v", code, out)
	}
	if n := cr.n.Load(); n > 8<<20 {
		t.Errorf("%d bytes of a refused upload were read", n)
	}
	// Not announced (chunked): cut once it passes the quota.
	code, out = upload(ada, io.LimitReader(&countingReader{}, 4<<20), -1)
	if code != http.StatusRequestEntityTooLarge || out["name"] != "quota_exceeded" {
		t.Fatalf("a chunked upload past the quota: %d %v", code, out)
	}
	entries, _ := os.ReadDir(filepath.Join(srv.cfg.DataDir, "uploads"))
	if len(entries) != 2 {
		t.Errorf("%d files kept in uploads/, want the 2 accepted", len(entries))
	}
	// Another user has their own quota.
	bob := signedIn(t, srv, "test-user2")
	if code, out := upload(bob, bytes.NewReader(audio), size); code != http.StatusAccepted {
		t.Fatalf("another user's upload: %d %v", code, out)
	}
	// Deleting an upload frees its share.
	var sess struct {
		CSRF string `json:"csrf"`
	}
	ada.API(context.Background(), "GET", "/api/session", nil, &sess)
	if err := ada.API(context.Background(), "DELETE", "/api/meetings/"+ids[0], nil, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if code, out := upload(ada, bytes.NewReader(audio), size); code != http.StatusAccepted {
		t.Fatalf("an upload after deleting one: %d %v", code, out)
	}
}
