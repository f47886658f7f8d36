// Package packetcache keeps the last packets of one RTP stream, indexed by
// sequence number, so that retransmissions asked for by any number of
// subscribers are served from the one stored copy.
package packetcache

import "sync"

// Cache holds the last Size packets of a stream. Slots are indexed by
// sequence number modulo Size; each slot's buffer is allocated once and
// reused, so a steady stream allocates nothing.
type Cache struct {
	mu    sync.RWMutex
	slots []slot
	mask  uint16
}

type slot struct {
	seq   uint16
	valid bool
	buf   []byte
}

// New returns a cache of size packets; size must be a power of two ≤ 32768.
func New(size int) *Cache {
	if size <= 0 || size > 1<<15 || size&(size-1) != 0 {
		panic("packetcache: size must be a power of two ≤ 32768")
	}
	return &Cache{slots: make([]slot, size), mask: uint16(size - 1)}
}

// Store copies one packet (the whole RTP packet as received) into the slot
// of its sequence number and returns the stored bytes, which stay valid
// until Size newer sequence numbers have been stored. When the slot
// already holds that sequence number the packet is a duplicate: the
// stored copy is kept and returned, and dup is true.
func (c *Cache) Store(seq uint16, pkt []byte) (stored []byte, dup bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[seq&c.mask]
	if s.valid && s.seq == seq {
		return s.buf, true
	}
	if cap(s.buf) < len(pkt) {
		s.buf = make([]byte, len(pkt), max(len(pkt), 256))
	}
	s.buf = s.buf[:len(pkt)]
	copy(s.buf, pkt)
	s.seq, s.valid = seq, true
	return s.buf, false
}

// Get copies the packet with sequence number seq into dst (grown if
// needed) and reports whether it was there.
func (c *Cache) Get(seq uint16, dst []byte) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := &c.slots[seq&c.mask]
	if !s.valid || s.seq != seq {
		return dst[:0], false
	}
	return append(dst[:0], s.buf...), true
}
