package sfu

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// A subscriber whose bandwidth is capped gets its video paced: packets
// leave at the rate of its budget instead of as they arrive. A keyframe
// comes from the publisher as a burst of 10-15 kB; on a 250 kb/s downlink
// whose queue holds 100 ms (3 kB) most of it was lost at once, and its
// repairs, sent as a burst too, were lost the same way: the lowest layer,
// which fits the link, froze for seconds (22 s in 40 s measured). Audio
// is not paced (it is small and must not wait behind video), nor is a
// subscriber without a cap (no queue, no copy: the fan-out path is
// unchanged for them).
//
// paceBurst is what may leave at once; a packet queued for longer than
// paceMaxAge is dropped rather than sent late (its frame is long due, and
// the receiver asks again for what it still needs).
const (
	paceBurst  = 20 * time.Millisecond
	paceMaxAge = time.Second
)

// pacer is a subscriber's queue of video packets and the goroutine that
// sends them at its rate.
type pacer struct {
	bps  atomic.Uint64 // the rate, 0 for none (packets are sent at once)
	wake chan struct{}
	stop <-chan struct{}

	mu     sync.Mutex
	queue  []paced
	head   int
	queued atomic.Int32 // packets waiting: while any wait, new ones queue too (order)
}

type paced struct {
	w       *boundWriter
	hdr     rtp.Header
	payload []byte
	at      int64 // when queued
}

var paceBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1500); return &b }}

// setRate sets the rate (0: none); the queue is looked at again.
func (q *pacer) setRate(bps uint64) {
	if q.bps.Swap(bps) != bps {
		q.poke()
	}
}

func (q *pacer) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// active tells whether a packet must go through the queue.
func (q *pacer) active() bool { return q.bps.Load() != 0 || q.queued.Load() != 0 }

// push queues a copy of a packet (the caller's header and payload are
// reused once it returns).
func (q *pacer) push(w *boundWriter, hdr *rtp.Header, payload []byte, now int64) {
	bp := paceBufs.Get().(*[]byte)
	e := paced{w: w, hdr: *hdr, payload: append((*bp)[:0], payload...), at: now}
	e.hdr.CSRC, e.hdr.Extensions = nil, nil // stamped when sent
	q.mu.Lock()
	q.queue = append(q.queue, e)
	q.queued.Add(1)
	q.mu.Unlock()
	q.poke()
}

func (q *pacer) pop() (paced, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.queue) {
		return paced{}, false
	}
	e := q.queue[q.head]
	q.queue[q.head] = paced{}
	q.head++
	if q.head == len(q.queue) { // empty: reuse the storage from the start
		q.queue, q.head = q.queue[:0], 0
	}
	return e, true
}

// run sends the queued packets at the pacer's rate until stop, with a
// token bucket of paceBurst.
func (q *pacer) run(m *Metrics) {
	tokens := math.Inf(1) // bytes that may leave now: a full bucket to start
	last := nanotime()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var abs [3]byte
	var ext [1]rtp.Extension
	for {
		e, ok := q.pop()
		if !ok {
			select {
			case <-q.stop:
				return
			case <-q.wake:
				continue
			}
		}
		size := float64(len(e.payload) + 12)
		due := false // its turn came before it went stale
		for !due && nanotime()-e.at <= int64(paceMaxAge) {
			now := nanotime()
			bps := float64(q.bps.Load())
			if bps == 0 { // no cap any more: drain at once
				due = true
				break
			}
			tokens = min(tokens+bps/8*float64(now-last)/1e9, bps/8*paceBurst.Seconds()+size)
			last = now
			if tokens >= size {
				tokens -= size
				due = true
				break
			}
			timer.Reset(time.Duration((size - tokens) * 8 / bps * 1e9))
			select {
			case <-q.stop:
				return
			case <-timer.C:
			case <-q.wake: // a new rate, or a packet more: look again
			}
		}
		if due {
			e.w.stamp(&e.hdr, &abs, &ext)
			if _, err := e.w.w.WriteRTP(&e.hdr, e.payload); err != nil {
				m.drop(DropWriteError, 1)
			}
		} else {
			m.drop(DropPacedLate, 1)
		}
		b := e.payload[:0]
		paceBufs.Put(&b)
		q.queued.Add(-1)
	}
}
