package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/store"
)

// TestJobsCommand: an operator lists the queue, sees a dead job's error,
// queues it again and cancels another; bad arguments are refused.
func TestJobsCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Enqueue(ctx, store.NewJob{Kind: "finalize", Key: "finalize:MT_a", MaxAttempts: 1, Node: "node-a"})
	st.Enqueue(ctx, store.NewJob{Kind: "transcribe_upload", Key: "upload:UP_b"})
	j, ok, err := st.ClaimJob(ctx, store.Claim{Owner: "w", Kinds: []string{"finalize"}}, time.Now(), time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := st.FailJob(ctx, j.ID, "w", "speech engine unreachable", time.Now(), false); err != nil {
		t.Fatal(err)
	}
	st.Close()

	jobs := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"jobs", "--data-dir", dir}, args...), &out, &errOut)
		return out.String(), errOut.String(), code
	}
	out, _, code := jobs("list")
	if code != 0 || !strings.Contains(out, "finalize:MT_a") || !strings.Contains(out, "dead") || !strings.Contains(out, "speech engine unreachable") ||
		!strings.Contains(out, "upload:UP_b") || !strings.Contains(out, "node-a") || !strings.Contains(out, " any ") {
		t.Fatalf("list (%d):\n%s", code, out)
	}
	out, _, _ = jobs("list", "--state", "dead", "--json")
	var listed []store.Job
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 || listed[0].Key != "finalize:MT_a" {
		t.Fatalf("list --state dead --json: %v %s", err, out)
	}
	if out, _, code := jobs("retry", "1"); code != 0 || !strings.Contains(out, "job 1 queued again") {
		t.Fatalf("retry: %d %s", code, out)
	}
	if _, errOut, code := jobs("retry", "2"); code != 1 || !strings.Contains(errOut, "job 2 is queued, not dead or cancelled") {
		t.Fatalf("retry of a queued job: %d %s", code, errOut)
	}
	if _, errOut, code := jobs("cancel", "99"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("cancel of no job: %d %s", code, errOut)
	}
	if _, _, code := jobs("cancel", "2"); code != 0 {
		t.Fatalf("cancel: %d", code)
	}
	out, _, _ = jobs("list", "--state", "cancelled")
	if !strings.Contains(out, "upload:UP_b") || strings.Contains(out, "finalize:MT_a") {
		t.Fatalf("cancelled:\n%s", out)
	}
	for _, bad := range [][]string{{"frob"}, {"retry"}, {"retry", "x"}, {"list", "--state", "lost"}, {}} {
		if _, _, code := jobs(bad...); code != 2 {
			t.Errorf("jobs %v: exit %d, want 2", bad, code)
		}
	}
	// A wrong data directory, or a mistyped flag, creates nothing.
	missing := filepath.Join(t.TempDir(), "none")
	var out2, errOut2 bytes.Buffer
	if code := run(ctx, []string{"jobs", "--data-dir", missing, "list"}, &out2, &errOut2); code != 1 || !strings.Contains(errOut2.String(), "data directory") {
		t.Errorf("a missing data directory: exit %d %s", code, errOut2.String())
	}
	if code := run(ctx, []string{"jobs", "--data-dir", missing, "list", "--data-dir", "x"}, &out2, &errOut2); code != 2 {
		t.Errorf("a flag after list: exit %d", code)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("the command created %s: %v", missing, err)
	}
}
