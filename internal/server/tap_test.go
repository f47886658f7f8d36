package server

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/parleyhq/parley/internal/sfu"
)

type countingConsumer struct {
	n      atomic.Int64
	delay  time.Duration
	closed chan struct{}
	once   sync.Once
}

func (c *countingConsumer) ConsumeRTP(p *rtp.Packet, _ time.Time) {
	if len(p.Payload) > 0 {
		c.n.Add(1)
	}
	time.Sleep(c.delay)
}

func (c *countingConsumer) Close() { c.once.Do(func() { close(c.closed) }) }

// TestTapNeverSlowsForwarding: a fast tap gets the packets; a tap stuck
// for 200 ms per packet drops and counts, while the subscriber keeps
// receiving everything; taps close when the track ends.
func TestTapNeverSlowsForwarding(t *testing.T) {
	srv := start(t)
	pubC, subC, audio, _ := pair(t, srv)
	rm, ok := srv.Rooms.Room("media-room")
	if !ok {
		t.Fatal("room not found")
	}
	var track *sfu.Track
	for _, tr := range rm.Tracks() {
		if tr.ID() == audio.ServerID() {
			track = tr
		}
	}
	fast := &countingConsumer{closed: make(chan struct{})}
	slow := &countingConsumer{delay: 200 * time.Millisecond, closed: make(chan struct{})}
	track.AddTap(fast, 0, 500)
	slowTap := track.AddTap(slow, 0, 5)
	r := subC.Received()[audio.ServerID()]
	before := r.Stats()
	time.Sleep(1500 * time.Millisecond)
	after := r.Stats()
	if got := after.Packets - before.Packets; got < 60 { // 50 packets/s
		t.Fatalf("subscriber got %d packets in 1.5 s with a stuck tap", got)
	}
	if fast.n.Load() < 60 {
		t.Fatalf("fast tap got %d packets", fast.n.Load())
	}
	if slowTap.Dropped() == 0 || srv.SFU.Metrics().Snapshot().Drops["tap_full"] == 0 {
		t.Fatal("stuck tap dropped nothing")
	}
	pubC.Close()
	for _, c := range []*countingConsumer{fast, slow} {
		select {
		case <-c.closed:
		case <-time.After(5 * time.Second):
			t.Fatal("tap not closed when its track ended")
		}
	}
}
