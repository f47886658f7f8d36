package record

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/parleyhq/parley/internal/audio"
	"github.com/parleyhq/parley/internal/audio/ogg"
)

// mediaWriter turns one track's RTP packets into a file, without
// transcoding.
type mediaWriter interface {
	// write takes the next packet in arrival order; it reports the media
	// time written so far (seconds from the file's first sample).
	write(p *rtp.Packet) error
	// flush writes what is buffered (an unfinished Ogg page).
	flush() error
	// close ends the stream (an end-of-stream page for Ogg).
	close() error
	// duration is the media time written, in seconds.
	duration() float64
	// position is the media time of the last packet (or frame) written.
	position() float64
	// late counts packets dropped as late or unusable.
	late() uint64
}

// oggOpus writes Opus packets into Ogg (RFC 7845) as they arrive. Lost
// and muted stretches are filled with empty frames (a TOC byte alone,
// which a decoder conceals as silence), so a file's position is always
// its time on the meeting clock minus the file's start: every file of a
// meeting plays in sync from its offset. Packets are grouped ten to a page
// (200 ms), so a crash of the process loses at most the page being
// filled.
type oggOpus struct {
	w       io.Writer
	serial  uint32
	seq     uint32
	granule int64 // 48 kHz samples written, pre-skip included
	pending [][]byte
	page    []byte

	started  bool
	nextTS   uint32 // RTP timestamp expected next
	lastTOC  byte
	dropped  uint64
	maxFill  int64 // samples: a jump beyond this is a new timeline, not filled
	pos      int64 // samples before the last packet
	headDone bool
}

const (
	opusPreSkip = 312
	pagePackets = 10
)

func newOggOpus(w io.Writer, serial uint32) *oggOpus {
	return &oggOpus{w: w, serial: serial, granule: opusPreSkip, maxFill: 48000 * 3600}
}

func (o *oggOpus) header(channels byte) error {
	head := []byte("OpusHead")
	head = append(head, 1, channels)
	head = binary.LittleEndian.AppendUint16(head, opusPreSkip)
	head = binary.LittleEndian.AppendUint32(head, 48000)
	head = append(head, 0, 0, 0) // output gain, mapping family 0
	tags := []byte("OpusTags")
	tags = binary.LittleEndian.AppendUint32(tags, 6)
	tags = append(tags, "parley"...)
	tags = binary.LittleEndian.AppendUint32(tags, 0)
	b, _ := ogg.AppendPage(nil, o.serial, 0, 0, ogg.FlagBOS, head)
	b, _ = ogg.AppendPage(b, o.serial, 1, 0, 0, tags)
	o.seq = 2
	_, err := o.w.Write(b)
	return err
}

func (o *oggOpus) write(p *rtp.Packet) error {
	samples, err := audio.OpusPacketSamples(p.Payload)
	if err != nil {
		o.dropped++
		return nil
	}
	if !o.started {
		channels := byte(1)
		if p.Payload[0]&0x04 != 0 {
			channels = 2
		}
		if err := o.header(channels); err != nil {
			return err
		}
		o.started, o.nextTS = true, p.Timestamp
	}
	gap := int64(int32(p.Timestamp - o.nextTS))
	switch {
	case gap < 0:
		o.dropped++ // late or duplicate: its time is already written
		return nil
	case gap > o.maxFill:
		// Not a gap but a new timeline (the sender restarted): go on
		// from here.
	case gap > 0:
		if err := o.fill(gap); err != nil {
			return err
		}
	}
	o.lastTOC = p.Payload[0]
	o.nextTS = p.Timestamp + uint32(samples)
	o.pos = o.granule - opusPreSkip
	return o.add(append([]byte(nil), p.Payload...), samples)
}

// fill writes empty 20 ms frames (or the last packet's frame size) over
// a gap of n samples.
func (o *oggOpus) fill(n int64) error {
	toc := o.lastTOC &^ 0x03 // one frame
	per, _ := audio.OpusPacketSamples([]byte{toc})
	if per <= 0 {
		per = 960
	}
	for ; n >= int64(per); n -= int64(per) {
		if err := o.add([]byte{toc}, per); err != nil {
			return err
		}
	}
	return nil
}

func (o *oggOpus) add(pkt []byte, samples int) error {
	o.pending = append(o.pending, pkt)
	o.granule += int64(samples)
	if len(o.pending) >= pagePackets {
		return o.flush()
	}
	return nil
}

func (o *oggOpus) flush() error { return o.writePage(0) }

func (o *oggOpus) writePage(flags byte) error {
	if len(o.pending) == 0 && flags == 0 {
		return nil
	}
	var ok bool
	o.page, ok = ogg.AppendPage(o.page[:0], o.serial, o.seq, o.granule, flags, o.pending...)
	if !ok {
		return errors.New("record: ogg page overflow")
	}
	o.seq++
	o.pending = o.pending[:0]
	_, err := o.w.Write(o.page)
	return err
}

func (o *oggOpus) close() error {
	if !o.started {
		return nil
	}
	return o.writePage(ogg.FlagEOS)
}

func (o *oggOpus) duration() float64 {
	if !o.started {
		return 0
	}
	return float64(o.granule-opusPreSkip) / 48000
}

func (o *oggOpus) late() uint64 { return o.dropped }

func (o *oggOpus) position() float64 { return float64(o.pos) / 48000 }

// ivfVP8 writes VP8 frames into IVF, each with its RTP time (90 kHz) as
// its timestamp. A frame with a missing packet is dropped and the writer
// waits for the next keyframe (asking for one), so the file never holds
// a frame a decoder would choke on.
type ivfVP8 struct {
	w         io.Writer
	keyframe  func() // asks the publisher for a keyframe
	frame     []byte
	frameTS   uint32
	inFrame   bool
	broken    bool
	nextSeq   uint16
	haveSeq   bool
	started   bool
	firstTS   uint32
	lastTS    uint32
	needKey   bool
	frames    uint64
	dropped   uint64
	headerOut bool
}

func newIVFVP8(w io.Writer, keyframe func()) *ivfVP8 {
	return &ivfVP8{w: w, keyframe: keyframe, needKey: true}
}

func (v *ivfVP8) writeHeader() error {
	h := make([]byte, 32)
	copy(h, "DKIF")
	binary.LittleEndian.PutUint16(h[6:], 32)
	copy(h[8:], "VP80")
	// Width and height are in each keyframe; the header's are advisory.
	binary.LittleEndian.PutUint32(h[16:], 90000) // timebase: 1/90000 s
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint32(h[24:], 0) // frame count: unknown while recording
	v.headerOut = true
	_, err := v.w.Write(h)
	return err
}

func (v *ivfVP8) write(p *rtp.Packet) error {
	if !v.headerOut {
		if err := v.writeHeader(); err != nil {
			return err
		}
	}
	if v.haveSeq && p.SequenceNumber != v.nextSeq {
		if int16(p.SequenceNumber-v.nextSeq) < 0 {
			v.dropped++ // late (a retransmission after the frame was given up)
			return nil
		}
		// A packet is missing: this frame is broken, and so may be the
		// frames that refer to it, until the next keyframe.
		v.broken, v.needKey = true, true
		v.keyframe()
	}
	v.haveSeq, v.nextSeq = true, p.SequenceNumber+1
	var vp8 codecs.VP8Packet
	if _, err := vp8.Unmarshal(p.Payload); err != nil || len(vp8.Payload) == 0 {
		return nil
	}
	if !v.inFrame || p.Timestamp != v.frameTS || (vp8.S == 1 && vp8.PID == 0) {
		if v.inFrame && len(v.frame) > 0 {
			v.dropped++ // a frame without its last packet
		}
		v.frame, v.inFrame, v.frameTS, v.broken = v.frame[:0], true, p.Timestamp, !(vp8.S == 1 && vp8.PID == 0)
	}
	v.frame = append(v.frame, vp8.Payload...)
	if !p.Marker {
		return nil
	}
	v.inFrame = false
	if v.broken {
		v.dropped++
		v.needKey = true
		v.keyframe()
		return nil
	}
	key := v.frame[0]&0x01 == 0
	if v.needKey && !key {
		v.keyframe()
		return nil
	}
	v.needKey = false
	if !v.started {
		v.started, v.firstTS = true, v.frameTS
	}
	v.lastTS = v.frameTS
	hdr := make([]byte, 12, 12+len(v.frame))
	binary.LittleEndian.PutUint32(hdr, uint32(len(v.frame)))
	binary.LittleEndian.PutUint64(hdr[4:], uint64(v.frameTS-v.firstTS))
	v.frames++
	_, err := v.w.Write(append(hdr, v.frame...))
	return err
}

func (v *ivfVP8) flush() error { return nil }
func (v *ivfVP8) close() error { return nil }

func (v *ivfVP8) duration() float64 {
	if !v.started {
		return 0
	}
	return float64(v.lastTS-v.firstTS) / 90000
}

func (v *ivfVP8) late() uint64 { return v.dropped }

func (v *ivfVP8) position() float64 { return v.duration() }

// annexB writes H.264 as an Annex B byte stream (.h264): NAL units
// with start codes, single, aggregated (STAP-A) or fragmented (FU-A)
// in RTP, from the first keyframe (IDR) on.
type annexB struct {
	w        io.Writer
	keyframe func()
	h264     codecs.H264Packet
	seenIDR  bool
	firstTS  uint32
	lastTS   uint32
	started  bool
	dropped  uint64
}

func newAnnexB(w io.Writer, keyframe func()) *annexB {
	return &annexB{w: w, keyframe: keyframe}
}

func (a *annexB) write(p *rtp.Packet) error {
	nal, err := a.h264.Unmarshal(p.Payload)
	if err != nil {
		a.dropped++
		return nil
	}
	if len(nal) == 0 {
		return nil // a fragment: the unit is returned whole with its last
	}
	if !a.seenIDR {
		if !hasIDR(nal) {
			a.keyframe()
			return nil
		}
		a.seenIDR = true
	}
	if !a.started {
		a.started, a.firstTS = true, p.Timestamp
	}
	a.lastTS = p.Timestamp
	_, err = a.w.Write(nal)
	return err
}

// hasIDR reports whether an Annex B buffer holds an IDR slice or a
// sequence parameter set (which precedes one).
func hasIDR(b []byte) bool {
	for i := 0; i+3 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if t := b[i+3] & 0x1f; t == 5 || t == 7 {
				return true
			}
		}
	}
	return false
}

func (a *annexB) flush() error { return nil }
func (a *annexB) close() error { return nil }

func (a *annexB) duration() float64 {
	if !a.started {
		return 0
	}
	return float64(a.lastTS-a.firstTS) / 90000
}

func (a *annexB) late() uint64 { return a.dropped }

func (a *annexB) position() float64 { return a.duration() }
