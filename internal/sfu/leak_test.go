package sfu

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package when a goroutine of the SFU or of pion
// outlives its tests: every test closes its peers and SFU, and Close
// waits for what they started. Goroutines are told apart by id (never
// reused) and judged by their stacks, so an unrelated goroutine of the
// test runner neither hides nor fakes a leak. Tests in synctest bubbles
// are checked by synctest too: it fails a bubble whose goroutines do not
// all exit.
func TestMain(m *testing.M) {
	before := goroutines()
	code := m.Run()
	if code == 0 && !fuzzing() {
		if leaked := leakedSince(before, 5*time.Second); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: %d goroutines of the SFU or pion left running after the tests:\n\n%s\n",
				len(leaked), strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// fuzzing reports whether this process fuzzes (-test.fuzz) or is a fuzz
// worker: its tests do not end when m.Run returns.
func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

// goroutines returns the stack of every goroutine, by its "goroutine N"
// header.
func goroutines() map[string]string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		id, _, _ := strings.Cut(g, " [")
		out[id] = g
	}
	return out
}

// leakedSince waits up to wait for every goroutine started since before
// whose stack runs or was created by code of this package or of pion to
// end (a closed connection's goroutines take a moment to see it), and
// returns the stacks of those still running.
func leakedSince(before map[string]string, wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	for {
		var leaked []string
		for id, stack := range goroutines() {
			if _, ok := before[id]; ok {
				continue
			}
			if strings.Contains(stack, "parley/internal/sfu") || strings.Contains(stack, "github.com/pion/") {
				leaked = append(leaked, stack)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			slices.Sort(leaked)
			return leaked
		}
		time.Sleep(50 * time.Millisecond)
	}
}
