// Package ogg demultiplexes Ogg streams (RFC 3533) into packets. It reads
// one logical stream (the first one, or the first whose first packet
// satisfies a caller's test), checks every page's CRC, and bounds memory: a
// packet longer than the reader's limit is skipped and reported, never
// buffered whole, so a hostile file cannot make it allocate what it claims.
//
// Not pion's oggreader/oggwriter: the reader returns whole page payloads
// without their lacing values, so it can neither split the many Opus packets
// an encoder puts on one page nor join a packet continued across pages, and
// it does not pick one of several multiplexed streams, bound packet size or
// count lost pages; the writer only writes Opus from RTP, where AppendPage
// lets tests build any page, malformed ones included.
package ogg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Errors returned by Reader.Next.
var (
	ErrCorrupt = errors.New("ogg: corrupt stream")
	// ErrNoStream: no logical stream in the input matches.
	ErrNoStream = errors.New("ogg: no matching logical stream")
)

const (
	flagContinued = 0x01
	flagBOS       = 0x02
	flagEOS       = 0x04
	headerLen     = 27
)

// Packet is one packet of the selected logical stream.
type Packet struct {
	Data []byte // nil when Oversize
	// Granule is the granule position of the page this packet ends on when
	// it is the last packet finished on that page, else -1 (RFC 3533 §6).
	Granule int64
	// EOS is set on the last packet of the stream's last page.
	EOS bool
	// Oversize: the packet was longer than the limit and was skipped.
	Oversize bool
	// Size is the packet's length in bytes (also when Oversize).
	Size int
}

// Reader reads the packets of one logical stream.
type Reader struct {
	r       io.Reader
	max     int
	match   func(first []byte) bool
	serial  uint32
	locked  bool
	pending []Packet
	partial []byte
	psize   int  // bytes of the packet being assembled, also when skipped
	skip    bool // the packet being assembled is oversize
	hdr     [headerLen]byte
	lacing  [255]byte
	page    []byte
	eos     bool
	seq     uint32
	started bool
	sawBOS  bool
	// Lost counts pages missing by sequence number (damaged or cut streams).
	Lost int
}

// NewReader returns a Reader over r. maxPacket bounds the bytes kept for
// one packet; match, if not nil, selects the first logical stream whose
// first packet it accepts (e.g. one starting with "OpusHead").
func NewReader(r io.Reader, maxPacket int, match func(first []byte) bool) *Reader {
	return &Reader{r: r, max: maxPacket, match: match}
}

// Serial returns the selected stream's serial number (valid after the
// first packet).
func (o *Reader) Serial() uint32 { return o.serial }

// Next returns the next packet, io.EOF at the end of the logical stream,
// ErrCorrupt (wrapped) for damaged input, ErrNoStream if no stream matched.
func (o *Reader) Next() (Packet, error) {
	for len(o.pending) == 0 {
		if o.eos {
			return Packet{}, io.EOF
		}
		if err := o.readPage(); err != nil {
			return Packet{}, err
		}
	}
	p := o.pending[0]
	o.pending = o.pending[1:]
	return p, nil
}

func (o *Reader) readPage() error {
	if _, err := io.ReadFull(o.r, o.hdr[:]); err != nil {
		if err == io.EOF {
			if !o.locked {
				return ErrNoStream
			}
			// A stream cut before its EOS page (a recorder that crashed)
			// ends here; a packet split across the cut is lost.
			o.eos = true
			return io.EOF
		}
		return fmt.Errorf("%w: truncated page header", ErrCorrupt)
	}
	h := o.hdr[:]
	if string(h[:4]) != "OggS" {
		return fmt.Errorf("%w: page capture pattern missing", ErrCorrupt)
	}
	if h[4] != 0 {
		return fmt.Errorf("%w: page version %d", ErrCorrupt, h[4])
	}
	flags := h[5]
	granule := int64(binary.LittleEndian.Uint64(h[6:]))
	serial := binary.LittleEndian.Uint32(h[14:])
	seq := binary.LittleEndian.Uint32(h[18:])
	crc := binary.LittleEndian.Uint32(h[22:])
	nseg := int(h[26])
	lacing := o.lacing[:nseg]
	if _, err := io.ReadFull(o.r, lacing); err != nil {
		return fmt.Errorf("%w: truncated lacing table", ErrCorrupt)
	}
	size := 0
	for _, l := range lacing {
		size += int(l)
	}
	if cap(o.page) < size {
		o.page = make([]byte, size) // at most 255·255 bytes
	}
	body := o.page[:size]
	if _, err := io.ReadFull(o.r, body); err != nil {
		return fmt.Errorf("%w: truncated page", ErrCorrupt)
	}
	h[22], h[23], h[24], h[25] = 0, 0, 0, 0
	c := crcUpdate(0, h)
	c = crcUpdate(c, lacing)
	c = crcUpdate(c, body)
	if c != crc {
		return fmt.Errorf("%w: page %d CRC mismatch", ErrCorrupt, seq)
	}
	if !o.locked {
		if flags&flagBOS == 0 {
			if o.sawBOS {
				// All streams have begun (RFC 3533 §4: BOS pages come
				// first) and none matched.
				return ErrNoStream
			}
			return fmt.Errorf("%w: first page is not a beginning of stream", ErrCorrupt)
		}
		o.sawBOS = true
		first := firstPacket(lacing, body)
		if o.match != nil && !o.match(first) {
			return nil // another logical stream; keep looking
		}
		o.locked, o.serial = true, serial
	} else if serial != o.serial {
		return nil // a page of another multiplexed stream
	}
	if o.started && seq != o.seq+1 {
		o.Lost += int(seq - o.seq - 1)
		o.partial, o.psize, o.skip = o.partial[:0], 0, false
		if flags&flagContinued != 0 {
			o.skip = true // the start of this packet is gone
		}
	}
	o.started, o.seq = true, seq

	// Split the body into packets: a lacing value below 255 ends a packet.
	off := 0
	lastEnd := -1
	for i, l := range lacing {
		if l < 255 {
			lastEnd = i
		}
	}
	for i, l := range lacing {
		seg := body[off : off+int(l)]
		off += int(l)
		o.psize += len(seg)
		if !o.skip {
			if o.psize > o.max {
				o.skip = true
				o.partial = o.partial[:0]
			} else {
				o.partial = append(o.partial, seg...)
			}
		}
		if l == 255 {
			continue
		}
		p := Packet{Granule: -1, Size: o.psize, Oversize: o.skip && o.psize > o.max}
		if i == lastEnd {
			p.Granule = granule
			p.EOS = flags&flagEOS != 0
		}
		if o.skip && !p.Oversize {
			// The remains of a packet whose start was lost: drop it.
			o.partial, o.psize, o.skip = o.partial[:0], 0, false
			continue
		}
		if !p.Oversize {
			p.Data = append([]byte(nil), o.partial...)
		}
		o.pending = append(o.pending, p)
		o.partial, o.psize, o.skip = o.partial[:0], 0, false
	}
	if flags&flagEOS != 0 {
		o.eos = true
	}
	return nil
}

// firstPacket returns the first packet (or its first page's part) of a page.
func firstPacket(lacing, body []byte) []byte {
	n := 0
	for _, l := range lacing {
		n += int(l)
		if l < 255 {
			break
		}
	}
	return body[:n]
}

// LastGranule scans the tail of an Ogg file (the last 64 KiB) for the last
// page of stream serial and returns its granule position, or -1.
func LastGranule(r io.ReaderAt, size int64, serial uint32) int64 {
	const tail = 64 << 10
	start := max(0, size-tail)
	buf := make([]byte, size-start)
	n, _ := r.ReadAt(buf, start)
	buf = buf[:n]
	for i := len(buf) - headerLen; i >= 0; i-- {
		if buf[i] != 'O' || string(buf[i:i+4]) != "OggS" {
			continue
		}
		if binary.LittleEndian.Uint32(buf[i+14:]) != serial {
			continue
		}
		g := int64(binary.LittleEndian.Uint64(buf[i+6:]))
		if g >= 0 {
			return g
		}
	}
	return -1
}

var crcTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

func crcUpdate(c uint32, b []byte) uint32 {
	for _, v := range b {
		c = c<<8 ^ crcTable[byte(c>>24)^v]
	}
	return c
}

// Page flags for AppendPage.
const (
	FlagContinued = flagContinued
	FlagBOS       = flagBOS
	FlagEOS       = flagEOS
)

// AppendPage appends one Ogg page holding the given complete packets to dst
// (each packet is laced into 255-byte segments; the page must stay within
// 255 segments, else it returns dst unchanged and false).
func AppendPage(dst []byte, serial, seq uint32, granule int64, flags byte, packets ...[]byte) ([]byte, bool) {
	var lacing []byte
	for _, p := range packets {
		n := len(p)
		for n >= 255 {
			lacing = append(lacing, 255)
			n -= 255
		}
		lacing = append(lacing, byte(n))
	}
	if len(lacing) > 255 {
		return dst, false
	}
	start := len(dst)
	dst = append(dst, "OggS"...)
	dst = append(dst, 0, flags)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(granule))
	dst = binary.LittleEndian.AppendUint32(dst, serial)
	dst = binary.LittleEndian.AppendUint32(dst, seq)
	dst = append(dst, 0, 0, 0, 0, byte(len(lacing)))
	dst = append(dst, lacing...)
	for _, p := range packets {
		dst = append(dst, p...)
	}
	binary.LittleEndian.PutUint32(dst[start+22:], crcUpdate(0, dst[start:]))
	return dst, true
}
