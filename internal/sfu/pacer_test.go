package sfu

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// timedWire records when each packet was written, and its sequence number.
type timedWire struct {
	mu   sync.Mutex
	at   []time.Duration
	seqs []uint16
	t0   int64
}

func (w *timedWire) WriteRTP(h *rtp.Header, _ []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.at = append(w.at, time.Duration(nanotime()-w.t0))
	w.seqs = append(w.seqs, h.SequenceNumber)
	return 0, nil
}

func (w *timedWire) Write(b []byte) (int, error) { return len(b), nil }

// sent returns the send times and sequence numbers so far.
func (w *timedWire) sent() ([]time.Duration, []uint16) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.at...), append([]uint16(nil), w.seqs...)
}

// restart counts times from now on.
func (w *timedWire) restart() {
	w.mu.Lock()
	w.t0 = nanotime()
	w.mu.Unlock()
}

// TestPacerSpreadsABurst: a keyframe's burst of 20 packets of 1 000 bytes
// queued at once for a subscriber capped at 400 kb/s leaves over about
// 0.4 s, in order; when the cap goes, what is left leaves at once; a
// packet that waited over paceMaxAge is dropped, not sent late.
func TestPacerSpreadsABurst(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		m := NewMetrics(nil)
		stop := make(chan struct{})
		q := &pacer{wake: make(chan struct{}, 1), stop: stop}
		done := make(chan struct{})
		go func() { q.run(m); close(done) }()
		defer func() { close(stop); <-done }()
		wire := &timedWire{t0: nanotime()}
		w := &boundWriter{w: wire, ssrc: 1, pt: 96}
		burst := func(from uint16, n int) {
			for i := range n {
				h := rtp.Header{Version: 2, SequenceNumber: from + uint16(i)}
				q.push(w, &h, make([]byte, 988), nanotime())
			}
		}
		q.setRate(400_000)
		burst(100, 20)
		time.Sleep(2 * time.Second)
		at, seqs := wire.sent()
		if len(at) != 20 {
			t.Fatalf("%d packets sent, want 20", len(at))
		}
		for i, s := range seqs {
			if s != 100+uint16(i) {
				t.Fatalf("sent out of order: %v", seqs)
			}
		}
		// 20 000 bytes at 50 000 bytes/s, the first 20 ms' worth at once.
		if first, last := at[1], at[19]; first > 10*time.Millisecond || last < 350*time.Millisecond || last > 420*time.Millisecond {
			t.Errorf("second packet at %v, last at %v: want at once, and about 0.38 s", first, last)
		}
		// The cap lifted halfway through a burst: the rest leaves at once.
		wire.restart()
		burst(200, 20)
		time.Sleep(100 * time.Millisecond)
		q.setRate(0)
		time.Sleep(10 * time.Millisecond)
		if at, _ = wire.sent(); len(at) != 40 || at[39]-at[20] > 150*time.Millisecond {
			t.Errorf("%d sent, the last %v after the first of the burst: want 40, within the 100 ms", len(at), at[len(at)-1]-at[20])
		}
		if q.active() {
			t.Error("the pacer still active with no cap and nothing queued")
		}
		// Far over the rate: what waited a second is dropped.
		q.setRate(16_000) // 2 000 bytes/s: two packets a second
		burst(300, 10)
		time.Sleep(3 * time.Second)
		late := m.Snapshot().Drops[DropPacedLate]
		at, _ = wire.sent()
		if sent := len(at) - 40; late == 0 || sent+int(late) != 10 || sent > 4 {
			t.Errorf("%d sent and %d dropped as late of 10 queued at 2 packets a second", sent, late)
		}
	})
}
