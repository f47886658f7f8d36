package sfu

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/transport/v5"
	"golang.org/x/net/ipv4"
)

// Forwarding one packet to N subscribers made N sendto system calls, the
// largest single cost of the server (42 % of its CPU with 20 subscribers
// on loopback). The media sockets are wrapped so that the packets written
// while a packet is being forwarded are queued and leave together in one
// sendmmsg when it is done (Linux; elsewhere x/net sends them one by one).
//
// The rule that keeps a packet from waiting: a write queues only while a
// forwarding is open or something is already queued, and every forwarding
// flushes every socket after closing. A write that saw one open therefore
// reaches the queue before that forwarding's flush takes the socket's
// lock, and leaves with it at the latest. Writes from other goroutines
// (RTCP, DTLS, ICE) made meanwhile ride along; the rest go out at once.

// batchMax is how many packets a socket queues before sending them
// without waiting for the end of the forwarding.
const batchMax = 128

// batcher is the SFU's set of batching sockets and its count of
// forwardings in progress.
type batcher struct {
	metrics *Metrics
	open    atomic.Int32
	conns   atomic.Pointer[[]*batchConn]
	mu      sync.Mutex // serialises additions to conns
}

// begin opens a forwarding: writes queue until end.
func (b *batcher) begin() { b.open.Add(1) }

// end closes a forwarding and sends everything queued.
func (b *batcher) end() {
	b.open.Add(-1)
	if cs := b.conns.Load(); cs != nil {
		for _, c := range *cs {
			c.flush()
		}
	}
}

func (b *batcher) add(c *batchConn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var cs []*batchConn
	if old := b.conns.Load(); old != nil {
		cs = append(cs, *old...)
	}
	cs = append(cs, c)
	b.conns.Store(&cs)
}

// batchNet opens batching UDP sockets for the ICE mux; everything else is
// the embedded network's.
type batchNet struct {
	transport.Net
	b *batcher
}

func (n batchNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UDPConn)
	if !ok {
		return c, nil
	}
	bc := &batchConn{UDPConn: uc, b: n.b, pc: ipv4.NewPacketConn(uc)}
	bc.slots = make([]batchSlot, batchMax)
	bc.msgs = make([]ipv4.Message, batchMax)
	for i := range bc.slots {
		s := &bc.slots[i]
		s.buf = make([]byte, 0, 1500)
		s.addr.IP = s.ip[:]
		bc.msgs[i].Buffers = [][]byte{nil}
		bc.msgs[i].Addr = &s.addr
	}
	n.b.add(bc)
	return bc, nil
}

// batchConn is one media socket. It also offers the netip.AddrPort reads
// and writes pion's mux uses when it can (no allocation per packet).
type batchConn struct {
	*net.UDPConn
	b  *batcher
	pc *ipv4.PacketConn

	mu    sync.Mutex
	n     int // queued
	slots []batchSlot
	msgs  []ipv4.Message
}

type batchSlot struct {
	buf  []byte
	ip   [4]byte
	addr net.UDPAddr
}

func (c *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return c.UDPConn.ReadFromUDPAddrPort(p)
}

func (c *batchConn) WriteToAddrPort(p []byte, to netip.AddrPort) (int, error) {
	if !to.Addr().Unmap().Is4() {
		return c.UDPConn.WriteToUDPAddrPort(p, to)
	}
	c.mu.Lock()
	if c.b.open.Load() == 0 && c.n == 0 {
		c.mu.Unlock()
		return c.UDPConn.WriteToUDPAddrPort(p, to)
	}
	if c.n == batchMax {
		c.send()
	}
	s := &c.slots[c.n]
	s.buf = append(s.buf[:0], p...)
	s.ip = to.Addr().Unmap().As4()
	s.addr.Port = int(to.Port())
	c.msgs[c.n].Buffers[0] = s.buf
	c.n++
	c.mu.Unlock()
	return len(p), nil
}

func (c *batchConn) WriteTo(p []byte, to net.Addr) (int, error) {
	if ua, ok := to.(*net.UDPAddr); ok {
		return c.WriteToAddrPort(p, ua.AddrPort())
	}
	return c.UDPConn.WriteTo(p, to)
}

func (c *batchConn) flush() {
	c.mu.Lock()
	if c.n > 0 {
		c.send()
	}
	c.mu.Unlock()
}

// send writes the queue (c.mu held). sendmmsg stops at the first message
// the kernel refuses; that one is dropped, as a failed sendto would be,
// and the rest still go.
func (c *batchConn) send() {
	for i := 0; i < c.n; {
		k, err := c.pc.WriteBatch(c.msgs[i:c.n], 0)
		if err != nil && k <= 0 {
			c.b.metrics.drop(DropWriteError, 1)
			k = 1
		}
		i += k
	}
	c.n = 0
}
