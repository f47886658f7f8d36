package leak

import (
	"strings"
	"testing"
	"time"
)

func TestSinceFindsANewGoroutineUntilItEnds(t *testing.T) {
	s := Take()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-stop
	}()
	left := s.Since()
	if len(left) != 1 || !strings.Contains(left[0], "leak.TestSinceFindsANewGoroutineUntilItEnds") {
		t.Fatalf("want the one goroutine started since the snapshot, got %d:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	close(stop)
	<-done
	deadline := time.Now().Add(time.Second)
	for len(s.Since()) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if left := s.Since(); len(left) != 0 {
		t.Fatalf("an ended goroutine is still reported:\n%s", strings.Join(left, "\n\n"))
	}
	if left := Take().Since(); len(left) != 0 {
		t.Fatalf("a fresh snapshot reports goroutines:\n%s", strings.Join(left, "\n\n"))
	}
}
