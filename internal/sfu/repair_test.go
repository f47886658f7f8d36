package sfu

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// nacked returns, in order, every sequence number NACKed for a media
// SSRC, with repeats.
func (l *rtcpLog) nacked(ssrc uint32) []uint16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var seqs []uint16
	for _, s := range l.pkts {
		if n, ok := s.pkt.(*rtcp.TransportLayerNack); ok && n.MediaSSRC == ssrc {
			for _, p := range n.Nacks {
				seqs = append(seqs, p.PacketList()...)
			}
		}
	}
	return seqs
}

// TestPublisherLossIsAskedForOnce: a publisher's lost video packets are
// asked for as soon as the gap shows; one repaired (whichever way it
// came: RTX arrives here like any packet, under its own number) is not
// asked for again; one never repaired is asked for repairTries times,
// repairEvery apart, then given up with a keyframe request. A gap after
// the layer was silent (an outage) is not asked for: a keyframe is.
func TestPublisherLossIsAskedForOnce(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t)
		const ssrc = 0x1000
		tr := r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", ssrc)
		send := func(from, to uint16) {
			for seq := from; seq <= to; seq++ {
				if seq != 10 && seq != 20 && seq != 21 {
					r.receive(tr, 0, vp8(0, seq, uint32(seq)*3000, seq == 1, 300))
				}
				if seq == 15 { // 10 repaired, 50 ms after it was missed
					r.receive(tr, 0, vp8(0, 10, 30000, false, 300))
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		send(1, 30)
		time.Sleep(2 * time.Second)

		got := r.pubRTCP.nacked(ssrc)
		count := func(seq uint16) int {
			n := 0
			for _, s := range got {
				if s == seq {
					n++
				}
			}
			return n
		}
		if count(10) != 1 {
			t.Errorf("packet 10, repaired 50 ms after it was missed, asked for %d times; want once (all NACKs: %v)", count(10), got)
		}
		for _, seq := range []uint16{20, 21} {
			if count(seq) != repairTries {
				t.Errorf("packet %d, never repaired, asked for %d times; want %d", seq, count(seq), repairTries)
			}
		}
		if len(got) != 1+2*repairTries {
			t.Errorf("NACKed %v: want only 10 once and 20, 21", got)
		}
		if plis := r.pubRTCP.plis(ssrc); len(plis) != 1 {
			t.Errorf("%d keyframe requests after giving up on 20 and 21; want 1", len(plis))
		}
		if s := r.sfu.metrics.Snapshot(); s.NACKsSent != uint64(len(got)) {
			t.Errorf("parley_nack_sent_total %d, want %d", s.NACKsSent, len(got))
		}

		// Silent for 1 s, then back 50 packets on: nothing to ask for.
		time.Sleep(time.Second)
		send(80, 90)
		time.Sleep(500 * time.Millisecond)
		if after := r.pubRTCP.nacked(ssrc); !slices.Equal(after, got) {
			t.Errorf("packets lost in a silence were asked for: %v", after[len(got):])
		}
		if plis := r.pubRTCP.plis(ssrc); len(plis) != 2 {
			t.Errorf("%d keyframe requests after the silence; want 2 (one more)", len(plis))
		}
	})
}

// TestRepairsEdges: sequence numbers wrapping, reordering within a gap,
// and a gap too large to ask for.
func TestRepairsEdges(t *testing.T) {
	r := newRepairs(false)
	now := int64(time.Second)
	r.received(65533, now, 0)
	r.received(1, now, 0) // 65534, 65535, 0 missing
	r.received(65535, now, 0)
	seqs, gaveUp := r.due(now, 0, nil)
	if !slices.Equal(seqs, []uint16{65534, 0}) || gaveUp {
		t.Fatalf("due %v (gave up %v); want [65534 0]", seqs, gaveUp)
	}
	if seqs, _ := r.due(now+int64(repairEvery)-1, 0, nil); len(seqs) != 0 {
		t.Errorf("asked again too soon: %v", seqs)
	}
	if seqs, _ := r.due(now+int64(repairEvery), 0, nil); len(seqs) != 2 {
		t.Errorf("not asked again after repairEvery: %v", seqs)
	}
	if _, gaveUp := r.due(now+int64(repairFor)+1, 0, nil); !gaveUp || len(r.missing) != 0 {
		t.Errorf("not given up after repairFor: %v", r.missing)
	}
	if !r.received(1+maxMissing+2, now, 0) || len(r.missing) != 0 {
		t.Errorf("a gap of %d packets is asked for: %d missing", maxMissing+1, len(r.missing))
	}
}

// TestRepairsReadAsMediaAreDropped: a publisher whose RTX packets carry
// their layer's rtp-stream-id instead of repaired-rtp-stream-id makes
// pion read its repairs as the layer's media (Peer.onRepairAsMedia).
// Packets of an RTX payload type are then neither forwarded as media
// (their payload starts with the original sequence number: garbage to a
// decoder) nor stored under their own numbers (which would make real
// media that arrives under those numbers look like duplicates); they
// are counted.
func TestRepairsReadAsMediaAreDropped(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t)
		tr := r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", 0x1000)
		tr.layerAt(0).markRTX(97)
		_, w := r.subscribe(r.peer(), tr, binding{ssrc: subSSRC})
		r.receive(tr, 0, vp8Numbered(0, 10, 100, 1, true))
		media := vp8Numbered(0, 11, 101, 1, false)
		rtx := vp8Numbered(0, 11, 101, 1, false)
		rtx.PayloadType, rtx.SequenceNumber = 97, 500 // RFC 4588: its own numbers, the original's first
		rtx.Payload = append([]byte{0, 11}, media.Payload...)
		r.receive(tr, 0, rtx)
		r.receive(tr, 0, media)
		sent := parse(t, w.take())
		if len(sent) != 2 || !bytes.Equal(sent[1].Payload, media.Payload) {
			t.Fatalf("forwarded %d packets (%v): want the two media packets, not the repair", len(sent), sent)
		}
		if n := r.sfu.Metrics().Snapshot().Drops[DropRepairAsMedia]; n != 1 {
			t.Errorf("%d repairs counted as read for media, want 1", n)
		}
	})
}
