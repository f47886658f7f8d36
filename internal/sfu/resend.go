package sfu

import (
	"fmt"
	"strings"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Retransmissions to subscribers: a NACKed outgoing sequence number is
// mapped back through the run it was sent in to the layer's packet
// cache, and the packet is sent again as first sent (RTX when the
// subscriber negotiated it).

// run is a stretch of forwarded packets with one layer and one set of
// offsets; a NACKed sequence number is mapped back through its run.
type run struct {
	outStart  uint16
	layer     int
	seqOffset uint16
	tsOffset  uint32
	picOff    uint16 // VP8 picture id and TL0PICIDX renumbering (vp8.go)
	tl0Off    uint8
}

// resend answers a subscriber's NACK from the track's packet cache: the
// one stored copy of each packet serves every subscriber's
// retransmissions. RFC 4585 §6.2.1 generic NACK; packets are resent on
// the media SSRC.
func (d *DownTrack) resend(n *rtcp.TransportLayerNack) {
	w := d.writer.Load()
	if w == nil {
		return
	}
	var buf, rw, rtx []byte
	var pkt rtp.Packet
	now := nanotime()
	d.mu.Lock()
	dropped := d.tf.droppedPictures()
	d.mu.Unlock()
	for _, pair := range n.Nacks {
		for _, out := range pair.PacketList() {
			d.mu.Lock()
			var r run
			found := false
			// The newest run that starts at or before out.
			for i := 1; i <= min(d.nRuns, len(d.runs)); i++ {
				c := d.runs[(d.nRuns-i)%len(d.runs)]
				if int16(out-c.outStart) >= 0 && int16(d.lastSeq-out) >= 0 {
					r, found = c, true
					break
				}
			}
			soon := found && d.resentWithinRTT(out, now)
			d.mu.Unlock()
			if soon {
				d.track.sfu.metrics.drop(DropResendSoon, 1)
				continue
			}
			if !found {
				continue
			}
			cache := d.track.cacheOf(r.layer)
			if cache == nil {
				continue
			}
			var ok bool
			if buf, ok = cache.Get(out-r.seqOffset, buf); !ok {
				continue
			}
			if pkt.Unmarshal(buf) != nil || (dropped.n > 0 && dropped.has(vp8Picture(pkt.Payload))) {
				continue
			}
			hdr := pkt.Header
			hdr.SSRC, hdr.PayloadType = w.ssrc, w.pt
			hdr.SequenceNumber = out
			hdr.Timestamp += r.tsOffset
			payload := pkt.Payload
			if d.track.codecKind == codecVP8 && (r.picOff != 0 || r.tl0Off != 0) {
				rw = vp8Shift(rw, payload, r.picOff, r.tl0Off)
				payload = rw
			}
			if d.track.kind == webrtc.RTPCodecTypeAudio {
				// The frame alone (a repair needs no redundancy), as
				// RED if that is what the subscriber receives.
				if d.track.redPT != 0 && pkt.PayloadType == d.track.redPT {
					primary, _, err := splitRED(payload, nil)
					if err != nil {
						continue
					}
					payload = primary
				}
				if w.red {
					rw = append(append(rw[:0], ptOpus), payload...)
					payload = rw
				}
			}
			if w.rtxSSRC != 0 {
				hdr.SSRC, hdr.PayloadType = w.rtxSSRC, w.rtxPT
				hdr.SequenceNumber = uint16(w.rtxSeq.Add(1))
				rtx = append(append(rtx[:0], byte(out>>8), byte(out)), payload...)
				payload = rtx
			}
			var abs [3]byte
			var ext [1]rtp.Extension
			w.stamp(&hdr, &abs, &ext)
			if _, err := w.w.WriteRTP(&hdr, payload); err == nil {
				d.track.sfu.metrics.retransmits.Add(1)
			}
		}
	}
}

// resentWithinRTT tells whether the outgoing sequence number out was
// resent less than a round trip ago, and records a resend now if not.
// Such a NACK crossed the repair on its way (a receiver asks again each
// round trip, and a full link delays the repair past it); answering it
// sends the packet twice for one loss. d.mu held.
func (d *DownTrack) resentWithinRTT(out uint16, now int64) bool {
	if d.resent == nil {
		d.resent = new([256]resendMark)
	}
	m := &d.resent[out%uint16(len(d.resent))]
	if m.at != 0 && m.seq == out && now-m.at < d.peer.bwe.rtt.Load() {
		return true
	}
	m.seq, m.at = out, now
	return false
}

// resendMark is when an outgoing sequence number was last resent.
type resendMark struct {
	seq uint16
	at  int64
}

// rtxFor finds the RTX payload type negotiated for the media payload
// type pt (fmtp apt=pt).
func rtxFor(codecs []webrtc.RTPCodecParameters, pt webrtc.PayloadType) (uint8, bool) {
	for _, c := range codecs {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) && c.SDPFmtpLine == fmt.Sprintf("apt=%d", pt) {
			return uint8(c.PayloadType), true
		}
	}
	return 0, false
}
