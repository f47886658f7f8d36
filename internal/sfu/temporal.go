package sfu

// Temporal layers (VP8). Chrome encodes each simulcast layer of a VP8
// camera in temporal layers (L1T3: TID 0 every fourth picture, TID 1
// halfway between, TID 2 the rest); a picture of one temporal layer
// refers only to pictures of its own or lower ones. A subscriber whose
// bandwidth falls between two simulcast layers can then be given the
// upper one at half its frame rate (TID 0 and 1) rather than the lower
// one at full rate: the pictures of TID 2 are not forwarded, and the
// stream is renumbered so that the subscriber sees no gap (sequence
// numbers, picture ids), as across a layer switch. The cap rises again
// only on a picture the receiver can take it from: TID 0, or one marked
// layer-sync.
//
// minTemporal is the lowest cap a subscriber is given so: TID 0 alone
// is a quarter of the frame rate, worse to watch than the layer below
// at full rate.
const (
	maxTemporal = 3
	minTemporal = 1
)

// temporalFilter is a down-track's temporal state (under its lock).
type temporalFilter struct {
	cap     int    // the highest TID forwarded now
	highest uint16 // newest input sequence number seen
	seen    bool
	// dropping: the newest packet seen was dropped. A packet that
	// arrives late, from before the last dropped group (input sequence
	// number before groupStart), is sent with the offsets from before
	// it.
	dropping        bool
	grouped         bool
	groupStart      uint16
	seqBefore       uint16
	picBefore       uint16
	reopen          bool   // offsets changed: the next packet sent opens a run
	lastDroppedPic  uint16 // picture id of the last picture dropped
	droppedPicKnown bool
}

// temporalCap is the highest TID the subscriber should get on the layer
// it is being sent now (d.mu held).
func (d *DownTrack) temporalCap() int {
	if d.current == d.bwLayer {
		return d.bwTemporal
	}
	return maxTemporal - 1
}

// resetTemporal starts a run (rebase, d.mu held).
func (d *DownTrack) resetTemporal() {
	d.tf = temporalFilter{cap: d.temporalCap()}
}

// dropTemporal tells whether the VP8 packet p, of the layer being sent,
// is above the subscriber's temporal cap; a dropped packet moves the
// sequence numbers (and its picture the picture ids) of the packets
// after it down by one. d.mu held.
func (d *DownTrack) dropTemporal(p *Packet) bool {
	tf := &d.tf
	if p.PictureStart {
		want := d.temporalCap()
		if want < tf.cap || (want > tf.cap && (p.Temporal == 0 || p.LayerSync)) {
			tf.cap = want
		}
	}
	newer := !tf.seen || int16(p.SequenceNumber-tf.highest) > 0
	if newer {
		tf.highest, tf.seen = p.SequenceNumber, true
	}
	if int(p.Temporal) <= tf.cap {
		if newer {
			tf.dropping = false
		}
		return false
	}
	if !newer {
		// Late, of a picture already left out: its place in the
		// numbering was not kept (the receiver may ask for it; it is
		// not sent).
		return true
	}
	if !tf.dropping {
		tf.dropping, tf.grouped = true, true
		tf.groupStart, tf.seqBefore, tf.picBefore = p.SequenceNumber, d.seqOffset, d.vp8.picOff
	}
	d.seqOffset--
	if picAt, _ := vp8Numbers(p.Payload); picAt >= 0 {
		pic := pictureID(p.Payload, picAt)
		if !tf.droppedPicKnown || pic != tf.lastDroppedPic {
			d.vp8.picOff = (d.vp8.picOff - 1) & 0x7fff
			tf.lastDroppedPic, tf.droppedPicKnown = pic, true
		}
	}
	tf.reopen = true
	return true
}

// sendOffsets returns the sequence number and picture id offsets for a
// packet sent on the current run, and opens a run when a drop moved them
// (so NACKs map back). d.mu held.
func (d *DownTrack) sendOffsets(p *Packet) (seqOff, picOff uint16) {
	tf := &d.tf
	if tf.grouped && int16(p.SequenceNumber-tf.groupStart) < 0 {
		return tf.seqBefore, tf.picBefore
	}
	if tf.reopen {
		tf.reopen = false
		d.addRun(run{outStart: p.SequenceNumber + d.seqOffset, layer: p.Layer, seqOffset: d.seqOffset,
			tsOffset: d.tsOffset, picOff: d.vp8.picOff, tl0Off: d.vp8.tl0Off})
	}
	return d.seqOffset, d.vp8.picOff
}
