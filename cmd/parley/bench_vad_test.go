package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestBenchVADFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"bench-vad", "-no-such-flag"}, &out, &errb); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	errb.Reset()
	if code := run(context.Background(), []string{"bench-vad", "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-der") {
		t.Errorf("-h: exit %d, usage %q", code, errb.String())
	}
}
