// Package leak finds goroutines a test left running: take a Snapshot
// before starting a server or clients, call Check after closing them.
// Goroutines are compared by id and stack, not counted: a goroutine of
// ours that outlives its owner fails the check even when another one,
// unrelated, happened to end in the meantime.
package leak

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// watched are the code a leaked goroutine runs or was started by: this
// module and pion. The runtime's, the test runner's and other libraries'
// long-lived goroutines are not ours to stop.
var watched = []string{"github.com/parleyhq/parley/", "github.com/pion/"}

// Snapshot is the set of goroutines running when it was taken.
type Snapshot struct {
	ids map[uint64]bool
}

// Take records the goroutines running now.
func Take() Snapshot {
	s := Snapshot{ids: map[uint64]bool{}}
	for _, g := range goroutines() {
		s.ids[g.id] = true
	}
	return s
}

// Check waits up to within for every goroutine started since s that runs
// (or was started by) our code or pion's to end, then fails t with the
// stacks of those still running.
func (s Snapshot) Check(t testing.TB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := s.Since()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines left running %v after the end:\n\n%s", len(left), within, strings.Join(left, "\n\n"))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Since returns the stacks of the watched goroutines started since s.
func (s Snapshot) Since() []string {
	var out []string
	for _, g := range goroutines() {
		if s.ids[g.id] {
			continue
		}
		for _, w := range watched {
			if strings.Contains(g.stack, w) {
				out = append(out, g.stack)
				break
			}
		}
	}
	return out
}

type goroutine struct {
	id    uint64
	stack string
}

// goroutines parses runtime.Stack's dump of every goroutine: blocks
// separated by a blank line, each starting "goroutine N [state]:".
func goroutines() []goroutine {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []goroutine
	for _, block := range bytes.Split(buf, []byte("\n\n")) {
		head, _, _ := strings.Cut(string(block), " [")
		id, err := strconv.ParseUint(strings.TrimPrefix(head, "goroutine "), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, goroutine{id: id, stack: string(block)})
	}
	return out
}
