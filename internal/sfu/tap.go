package sfu

import (
	"sync"
	"time"

	"github.com/pion/rtp"
)

// Consumer receives a tapped track's packets on the tap's own goroutine:
// the speech pipeline, a recorder. ConsumeRTP may take its time (decode,
// write to disk); p is valid only during the call. Close is called once,
// after the last packet, when the tap or the track ends.
type Consumer interface {
	ConsumeRTP(p *rtp.Packet, arrival time.Time)
	Close()
}

// Tap is a Sink that copies one layer's packets into a bounded queue and
// hands them to a Consumer from its own goroutine. When the consumer falls
// behind by more than the queue, packets are dropped and counted
// (parley_rtp_packets_dropped_total{reason="tap_full"}): the forwarding
// path never waits for a tap.
type Tap struct {
	track *Track
	layer int
	c     Consumer

	mu      sync.Mutex
	queue   []tapPacket // ring
	head, n int
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	dropped uint64
}

type tapPacket struct {
	buf     []byte
	arrival int64
}

var _ Sink = (*Tap)(nil)

// AddTap attaches a consumer to one layer of the track with room for
// queue packets (e.g. 500 = 10 s of 20 ms audio). The tap stops when the
// track ends, or by Stop or Close. Its goroutine belongs to the SFU, not
// to the track's peer: a consumer may take its time to finish (the speech
// pipeline recognises the last utterance) without holding up the peer's
// close; whoever adds a tap waits for Done, and SFU.Close waits for all.
func (t *Track) AddTap(c Consumer, layer, queue int) *Tap {
	tap := &Tap{track: t, layer: layer, c: c, queue: make([]tapPacket, max(queue, 1)),
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		c.Close()
		close(tap.done)
		return tap
	}
	t.taps = append(t.taps, tap)
	t.mu.Unlock()
	t.sfu.goroutine(tap.run)
	t.AddSink(tap)
	return tap
}

// WriteRTP implements Sink: copy and queue, or drop when full.
func (tap *Tap) WriteRTP(p *Packet) int {
	if p.Layer != tap.layer {
		return 0
	}
	tap.mu.Lock()
	if tap.closed {
		tap.mu.Unlock()
		return 0
	}
	if tap.n == len(tap.queue) {
		tap.dropped++
		tap.mu.Unlock()
		tap.track.sfu.metrics.drop(DropTapFull, 1)
		return 0
	}
	slot := &tap.queue[(tap.head+tap.n)%len(tap.queue)]
	size := p.MarshalSize()
	if cap(slot.buf) < size {
		slot.buf = make([]byte, size, max(size, 256))
	}
	slot.buf = slot.buf[:size]
	n, err := p.MarshalTo(slot.buf)
	if err != nil {
		tap.mu.Unlock()
		return 0
	}
	slot.buf = slot.buf[:n]
	slot.arrival = p.Arrival
	tap.n++
	tap.mu.Unlock()
	select {
	case tap.wake <- struct{}{}:
	default:
	}
	// A tap is not a subscriber: it does not count as forwarded.
	return 0
}

// Dropped returns how many packets the tap dropped because it was full.
func (tap *Tap) Dropped() uint64 {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return tap.dropped
}

func (tap *Tap) run() {
	defer close(tap.done)
	defer tap.c.Close()
	var pkt rtp.Packet
	var buf []byte
	for {
		tap.mu.Lock()
		for tap.n == 0 && !tap.closed {
			tap.mu.Unlock()
			<-tap.wake
			tap.mu.Lock()
		}
		if tap.n == 0 && tap.closed {
			tap.mu.Unlock()
			return
		}
		slot := &tap.queue[tap.head]
		// Swap buffers so the slot can be refilled while we consume.
		buf, slot.buf = slot.buf, buf[:0]
		arrival := slot.arrival
		tap.head = (tap.head + 1) % len(tap.queue)
		tap.n--
		tap.mu.Unlock()
		if pkt.Unmarshal(buf) == nil {
			tap.c.ConsumeRTP(&pkt, epoch.Add(time.Duration(arrival)))
		}
	}
}

// Stop detaches the tap without waiting: no packet enters its queue
// after Stop returns; those queued are still delivered, then the
// consumer is closed (Done is closed after that).
func (tap *Tap) Stop() {
	tap.track.RemoveSink(tap)
	tap.mu.Lock()
	already := tap.closed
	tap.closed = true
	tap.mu.Unlock()
	if !already {
		select {
		case tap.wake <- struct{}{}:
		default:
		}
	}
}

// Done is closed when the consumer has been closed.
func (tap *Tap) Done() <-chan struct{} { return tap.done }

// Close is Stop, then waits until the consumer has been closed.
func (tap *Tap) Close() {
	tap.Stop()
	<-tap.done
}
