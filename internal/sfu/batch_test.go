package sfu

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/transport/v5/stdnet"
)

// batchSocket opens a batching media socket on loopback.
func batchSocket(tb testing.TB) (*batcher, *batchConn) {
	tb.Helper()
	host, err := stdnet.NewNet()
	if err != nil {
		tb.Fatal(err)
	}
	b := &batcher{metrics: NewMetrics(nil)}
	c, err := batchNet{Net: host, b: b}.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	bc, ok := c.(*batchConn)
	if !ok {
		tb.Fatalf("the socket is a %T, not a batching one", c)
	}
	return b, bc
}

// TestBatchWaitsForTheForwarding: a write made while a packet is being
// forwarded waits for the end of the forwarding, then leaves; one made
// outside any leaves at once.
func TestBatchWaitsForTheForwarding(t *testing.T) {
	b, c := batchSocket(t)
	r, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	to := r.LocalAddr().(*net.UDPAddr).AddrPort()
	arrived := func() int {
		n := 0
		buf := make([]byte, 1500)
		for {
			r.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := r.Read(buf); err != nil {
				return n
			}
			n++
		}
	}
	c.WriteToAddrPort([]byte("direct"), to)
	if n := arrived(); n != 1 {
		t.Fatalf("a write outside a forwarding: %d packets arrived, want 1", n)
	}
	b.begin()
	c.WriteToAddrPort([]byte("one"), to)
	c.WriteTo([]byte("two"), net.UDPAddrFromAddrPort(to))
	if n := arrived(); n != 0 {
		t.Fatalf("%d packets left before the forwarding ended", n)
	}
	b.end()
	if n := arrived(); n != 2 {
		t.Fatalf("%d packets arrived after the forwarding ended, want 2", n)
	}
	b.begin()
	for range batchMax + 1 {
		c.WriteToAddrPort([]byte("many"), to)
	}
	if n := arrived(); n != batchMax {
		t.Errorf("a full queue: %d packets left, want %d", n, batchMax)
	}
	b.end()
	if n := arrived(); n != 1 {
		t.Errorf("after the forwarding: %d more packets, want 1", n)
	}
}

// TestBatchedSendsAllLeave: forwarders (writes between begin and end)
// and other writers (RTCP, DTLS: no begin) write at once from several
// goroutines to three receivers. Every packet arrives, each writer's
// packets in the order written, and nothing is left queued: a write
// never waits for a forwarding that does not come.
func TestBatchedSendsAllLeave(t *testing.T) {
	b, c := batchSocket(t)
	const writers, each = 4, 400
	type got struct {
		count [writers]int
		last  [writers]int
		order bool
	}
	var recv []*net.UDPConn
	results := make([]*got, 3)
	var wg sync.WaitGroup
	for i := range results {
		r, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		r.SetReadBuffer(4 << 20)
		defer r.Close()
		recv = append(recv, r)
		g := &got{order: true}
		for w := range g.last {
			g.last[w] = -1
		}
		results[i] = g
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1500)
			for total := 0; total < writers*each; total++ {
				r.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := r.Read(buf)
				if err != nil || n != 200 {
					return
				}
				w, seq := int(buf[0]), int(binary.BigEndian.Uint32(buf[1:]))
				g.count[w]++
				if seq <= g.last[w] {
					g.order = false
				}
				g.last[w] = seq
			}
		}()
	}
	var send sync.WaitGroup
	for w := range writers {
		send.Add(1)
		go func() {
			defer send.Done()
			forwarder := w%2 == 0
			p := make([]byte, 200)
			p[0] = byte(w)
			for seq := range each {
				binary.BigEndian.PutUint32(p[1:], uint32(seq))
				if forwarder {
					b.begin()
				}
				for _, r := range recv {
					if _, err := c.WriteToAddrPort(p, r.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
						t.Error(err)
					}
				}
				if forwarder {
					b.end()
				} else if seq%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	send.Wait()
	c.mu.Lock()
	left := c.n
	c.mu.Unlock()
	if left != 0 {
		t.Errorf("%d packets still queued after every writer returned", left)
	}
	wg.Wait()
	for i, g := range results {
		for w := range writers {
			if g.count[w] != each {
				t.Errorf("receiver %d got %d of writer %d's %d packets", i, g.count[w], w, each)
			}
		}
		if !g.order {
			t.Errorf("receiver %d got a writer's packets out of order", i)
		}
	}
}

// BenchmarkBatchedSends writes one 1 200-byte packet to 20 subscribers
// on loopback, through the batching socket (one sendmmsg) and without it
// (20 sendto), in the same run:
//
//	go test ./internal/sfu -run '^$' -bench BatchedSends
func BenchmarkBatchedSends(b *testing.B) {
	for _, batched := range []bool{false, true} {
		name := "sendto"
		if batched {
			name = "sendmmsg"
		}
		b.Run(name, func(b *testing.B) {
			bt, c := batchSocket(b)
			var to []*net.UDPConn
			for range 20 {
				r, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				to = append(to, r)
				go func() { // drain, so the receivers' buffers never fill
					buf := make([]byte, 1500)
					for {
						if _, err := r.Read(buf); err != nil {
							return
						}
					}
				}()
			}
			p := make([]byte, 1200)
			b.SetBytes(int64(len(p) * len(to)))
			for b.Loop() {
				if batched {
					bt.begin()
				}
				for _, r := range to {
					c.WriteToAddrPort(p, r.LocalAddr().(*net.UDPAddr).AddrPort())
				}
				if batched {
					bt.end()
				}
			}
		})
	}
}
