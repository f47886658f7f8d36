package sfu

import "github.com/pion/rtp"

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
//
// Packets arrive reordered (a jittery path). The cap is decided on the
// newest packets only; a late packet goes as its picture went: left out
// if its picture was (by picture id), else sent with the offsets of its
// place in the stream — those from before the first dropped group that
// follows it. Without this a late packet of a dropped picture, after the
// cap rose, was sent under the number of a packet already sent.
type temporalFilter struct {
	cap      int    // the highest TID forwarded now
	highest  uint16 // newest input sequence number seen
	seen     bool
	dropping bool   // the newest packet seen was dropped
	lastDrop uint16 // and its sequence number
	reopen   bool   // offsets changed: the next packet sent opens a run
	// The last dropped groups (runs of dropped packets in arrival
	// order), oldest first, and the last dropped pictures' ids.
	groups  [temporalMemory]droppedGroup
	nGroups int
	pics    [temporalMemory]uint16
	nPics   int
}

// temporalMemory is how many dropped groups and pictures are
// remembered: about 2 s of dropping every other picture at 30 frames/s,
// longer than a publisher's repair of a lost packet takes (repair.go:
// four asks 100 ms apart). A late packet from before the oldest is left
// out: where it went in the numbering is not known any more.
const temporalMemory = 32

type droppedGroup struct {
	start                uint16 // input sequence number of its first packet
	seqBefore, picBefore uint16 // the offsets before it
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
// after it down by one. fill tells a late packet of a dropped picture
// whose number the packets after it kept: its place is a gap the
// subscriber would count as lost and ask for (fillGap). d.mu held.
func (d *DownTrack) dropTemporal(p *Packet) (drop, fill bool) {
	tf := &d.tf
	pic := uint16(p.Picture)
	if tf.seen && int16(p.SequenceNumber-tf.highest) <= 0 {
		// Late: as its picture went.
		if tf.nGroups > len(tf.groups) && int16(p.SequenceNumber-tf.groups[tf.nGroups%len(tf.groups)].start) < 0 {
			return true, false
		}
		if p.Picture < 0 {
			return int(p.Temporal) > tf.cap, false
		}
		drop = tf.droppedPictures().has(p.Picture)
		return drop, drop
	}
	tf.highest, tf.seen = p.SequenceNumber, true
	if p.PictureStart {
		want := d.temporalCap()
		if want < tf.cap || (want > tf.cap && (p.Temporal == 0 || p.LayerSync)) {
			tf.cap = want
		}
	}
	if int(p.Temporal) <= tf.cap {
		tf.dropping = false
		return false, false
	}
	// A group is a run of consecutive numbers: a dropped packet that
	// overtook a sent one starts its own (the sent one, arriving late,
	// goes before it).
	if !tf.dropping || p.SequenceNumber != tf.lastDrop+1 {
		if tf.reopen {
			// Nothing sent since the last group: the packets between
			// the two, still to come, get a run of their own.
			d.openRunAfterDrop(p.Layer)
		}
		tf.dropping = true
		tf.groups[tf.nGroups%len(tf.groups)] = droppedGroup{start: p.SequenceNumber, seqBefore: d.seqOffset, picBefore: d.vp8.picOff}
		tf.nGroups++
	}
	tf.lastDrop = p.SequenceNumber
	d.seqOffset--
	if p.Picture >= 0 && (tf.nPics == 0 || tf.pics[(tf.nPics-1)%len(tf.pics)] != pic) {
		d.vp8.picOff = (d.vp8.picOff - 1) & 0x7fff
		tf.pics[tf.nPics%len(tf.pics)] = pic
		tf.nPics++
	}
	tf.reopen = true
	return true, false
}

// fillGap sends an RTP padding packet (no payload) under the number a
// late packet of a dropped picture would have had: the subscriber takes
// it as received, and does not count the number as lost nor ask for it
// (in CI a receiver on a jittery link otherwise counted 2.8 % of its
// video as lost after repair).
func (d *DownTrack) fillGap(w *boundWriter, p *Packet, seqOff uint16, tsOff uint32) {
	hdr := rtp.Header{Version: 2, Padding: true, PaddingSize: 1, PayloadType: w.pt, SSRC: w.ssrc,
		SequenceNumber: p.SequenceNumber + seqOff, Timestamp: p.Timestamp + tsOff}
	var abs [3]byte
	var ext [1]rtp.Extension
	w.stamp(&hdr, &abs, &ext)
	if _, err := w.w.WriteRTP(&hdr, nil); err != nil {
		d.track.sfu.metrics.drop(DropWriteError, 1)
	}
}

// sendOffsets returns the sequence number and picture id offsets for a
// packet sent on the current run, and opens a run when a drop moved them
// (so NACKs map back). d.mu held.
func (d *DownTrack) sendOffsets(p *Packet) (seqOff, picOff uint16) {
	tf := &d.tf
	// The first remembered group after p: p goes with what was before it.
	for i := min(tf.nGroups, len(tf.groups)); i >= 1; i-- {
		g := tf.groups[(tf.nGroups-i)%len(tf.groups)]
		if int16(p.SequenceNumber-g.start) < 0 {
			return g.seqBefore, g.picBefore
		}
	}
	if tf.reopen {
		d.openRunAfterDrop(p.Layer)
	}
	return d.seqOffset, d.vp8.picOff
}

// openRunAfterDrop records the run that starts right after the last
// dropped packet, with the offsets now (d.mu held): the packets after it
// that arrive late are in it too.
func (d *DownTrack) openRunAfterDrop(layer int) {
	d.tf.reopen = false
	d.addRun(run{outStart: d.tf.lastDrop + 1 + d.seqOffset, layer: layer, seqOffset: d.seqOffset,
		tsOffset: d.tsOffset, picOff: d.vp8.picOff, tl0Off: d.vp8.tl0Off})
}

// droppedPictures is a copy of the ids of the last pictures left out.
func (tf *temporalFilter) droppedPictures() pictureSet {
	return pictureSet{ids: tf.pics, n: min(tf.nPics, len(tf.pics))}
}

// pictureSet is a few VP8 picture ids.
type pictureSet struct {
	ids [temporalMemory]uint16
	n   int
}

// has tells whether the picture id pic (vp8Picture) is one of the
// pictures (a reordered packet of a left-out picture leaves a gap in the
// numbering, and a NACK for the gap must not bring it back).
func (s pictureSet) has(pic int32) bool {
	if pic < 0 {
		return false
	}
	for _, id := range s.ids[:s.n] {
		if int32(id) == pic {
			return true
		}
	}
	return false
}
