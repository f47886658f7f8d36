package sfu

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// l1t3 is the temporal layer of picture n in Chrome's three-layer
// pattern.
var l1t3 = [4]uint8{0, 2, 1, 2}

// vp8Temporal builds packet part (0 or 1) of a two-packet VP8 picture
// whose descriptor carries a picture id, TL0PICIDX and TID/Y, as Chrome
// sends L1T3 simulcast; the body names the picture and the part.
func vp8TemporalPacket(seq, pic uint16, tl0, tid uint8, sync, key bool, part int) *rtp.Packet {
	first := byte(0x80) // X
	if part == 0 {
		first |= 0x10 // S, partition 0
	}
	frame := byte(0x01)
	if key {
		frame = 0x00
	}
	ty := tid << 6
	if sync {
		ty |= 0x20
	}
	payload := []byte{first, 0xe0, 0x80 | byte(pic>>8), byte(pic), tl0, ty, frame, byte(pic >> 8), byte(pic), byte(part), 0, 0}
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 3000 * uint32(pic),
		SSRC: 0x1000, Marker: part == 1}, Payload: payload}
}

func TestVP8TemporalDescriptor(t *testing.T) {
	for _, c := range []struct {
		p          []byte
		tid        uint8
		sync, ok   bool
		pictStart  bool
		descriptor string
	}{
		{vp8TemporalPacket(1, 300, 7, 2, true, false, 0).Payload, 2, true, true, true, "I (15 bits), L, T, Y"},
		{vp8TemporalPacket(1, 300, 7, 1, false, false, 1).Payload, 1, false, true, false, "second packet"},
		{[]byte{0x90, 0x20, 0x40, 0}, 1, false, true, true, "T alone"},
		{[]byte{0x90, 0xa0, 0x05, 0x80, 0}, 2, false, true, true, "7-bit picture id, T"},
		{[]byte{0x90, 0xc0, 0x80, 0x01, 0x07, 0}, 0, false, false, true, "no T: one temporal layer"},
		{[]byte{0x10, 0x00}, 0, false, false, true, "no extension"},
		{[]byte{0x90, 0xe0, 0x80}, 0, false, false, true, "truncated"},
	} {
		tid, sync, ok := vp8Temporal(c.p)
		if tid != c.tid || sync != c.sync || ok != c.ok || vp8PictureStart(c.p) != c.pictStart {
			t.Errorf("%s: TID %d, Y %v, ok %v, starts a picture %v; want %d %v %v %v", c.descriptor, tid, sync, ok, vp8PictureStart(c.p), c.tid, c.sync, c.ok, c.pictStart)
		}
	}
}

// TestTemporalLayersDropped: a subscriber capped at TID 1 gets the
// pictures of TID 0 and 1 only, numbered with no gap (sequence numbers,
// picture ids; TL0PICIDX as sent), its NACKs answered with the packets
// first sent; the cap lowers at the next picture and rises only on one
// of TID 0 or marked layer-sync; a packet arriving late from before a
// dropped picture keeps its place, one of a dropped picture stays out
// (also from a NACK for the gap it leaves), one older than what is
// remembered too.
func TestTemporalLayersDropped(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t)
		tr := r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", 0x1000)
		down, w := r.subscribe(r.peer(), tr, binding{ssrc: subSSRC})
		down.setBandwidthLayer(LayerLow, 1)
		seq := uint16(65500) // wraps during the test
		type pic struct {
			n    uint16
			tid  uint8
			sync bool
		}
		var sent []rtp.Packet
		feed := func(pics ...pic) {
			for _, p := range pics {
				for part := range 2 {
					r.receive(tr, LayerLow, vp8TemporalPacket(seq, 1000+p.n, uint8(p.n/4), p.tid, p.sync, p.n == 0, part))
					seq++
				}
				time.Sleep(33 * time.Millisecond)
			}
			sent = append(sent, parse(t, w.take())...)
		}
		var pics []pic
		for n := range uint16(12) {
			pics = append(pics, pic{n, l1t3[n%4], false})
		}
		feed(pics...)
		// Pictures 0, 2, 4, 6, 8, 10 (TID 0 and 1), two packets each.
		check := func(from int, want []uint16) {
			t.Helper()
			got := sent[from:]
			if len(got) != 2*len(want) {
				t.Fatalf("sent %d packets from %d, want %d (pictures %v)", len(got), from, 2*len(want), want)
			}
			for i, p := range got {
				src := uint16(p.Payload[7])<<8 | uint16(p.Payload[8])
				if src != 1000+want[i/2] || int(p.Payload[9]) != i%2 {
					t.Errorf("packet %d carries picture %d part %d, want picture %d part %d", from+i, src-1000, p.Payload[9], want[i/2], i%2)
				}
			}
		}
		check(0, []uint16{0, 2, 4, 6, 8, 10})
		for i := 1; i < len(sent); i++ {
			if sent[i].SequenceNumber != sent[i-1].SequenceNumber+1 {
				t.Errorf("sequence numbers %d then %d", sent[i-1].SequenceNumber, sent[i].SequenceNumber)
			}
			// Two packets per picture: the id moves on every other.
			if d := pictureID(sent[i].Payload, 2) - pictureID(sent[i-1].Payload, 2); d != uint16(1-i%2) {
				t.Errorf("picture ids %d then %d", pictureID(sent[i-1].Payload, 2), pictureID(sent[i].Payload, 2))
			}
			if src := uint16(sent[i].Payload[7])<<8 | uint16(sent[i].Payload[8]); sent[i].Payload[4] != uint8((src-1000)/4) {
				t.Errorf("packet %d: TL0PICIDX %d, sent as %d", i, sent[i].Payload[4], (src-1000)/4)
			}
		}
		if last := pictureID(sent[len(sent)-1].Payload, 2); last != 1005 {
			t.Errorf("the sixth picture sent has id %d, want 1005", last)
		}
		// NACKs for packets after several drops: the same bytes again.
		for _, i := range []int{1, 6, 11} {
			down.resend(&rtcp.TransportLayerNack{MediaSSRC: subSSRC, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{sent[i].SequenceNumber})})
			again := parse(t, w.take())
			if len(again) != 1 || !bytes.Equal(again[0].Payload, sent[i].Payload) || again[0].Timestamp != sent[i].Timestamp {
				t.Errorf("NACK for packet %d (seq %d): resent %v, want the packet first sent", i, sent[i].SequenceNumber, again)
			}
		}

		// The cap rises: not on a picture of TID 2 nor on one of TID 1
		// without layer sync, but on TID 0; then everything passes.
		down.setBandwidthLayer(LayerLow, 2)
		from := len(sent)
		feed(pic{13, 2, false}, pic{14, 1, false}, pic{15, 2, false}, pic{16, 0, false}, pic{17, 2, false}, pic{18, 1, false})
		check(from, []uint16{14, 16, 17, 18})
		// ... and on a layer-sync picture of TID 2 too, once lowered: the
		// next picture already goes by the lower cap.
		down.setBandwidthLayer(LayerLow, 1)
		from = len(sent)
		feed(pic{19, 2, false}, pic{20, 0, false})
		down.setBandwidthLayer(LayerLow, 2)
		feed(pic{21, 2, false}, pic{22, 1, true}, pic{23, 2, true})
		check(from, []uint16{20, 22, 23})

		// Reordered: the second packet of picture 24 comes after the
		// dropped picture 25; it is sent with the numbers it would have
		// had in order.
		down.setBandwidthLayer(LayerLow, 1)
		p24 := seq
		r.receive(tr, LayerLow, vp8TemporalPacket(p24, 1024, 6, 0, false, false, 0))
		r.receive(tr, LayerLow, vp8TemporalPacket(p24+2, 1025, 6, 2, false, false, 0))
		r.receive(tr, LayerLow, vp8TemporalPacket(p24+3, 1025, 6, 2, false, false, 1))
		r.receive(tr, LayerLow, vp8TemporalPacket(p24+1, 1024, 6, 0, false, false, 1))
		r.receive(tr, LayerLow, vp8TemporalPacket(p24+4, 1026, 6, 1, false, false, 0))
		got := parse(t, w.take())
		if len(got) != 3 {
			t.Fatalf("reordered: sent %d packets, want 3", len(got))
		}
		last := sent[len(sent)-1]
		want := []struct {
			seq uint16
			pic uint16
		}{{last.SequenceNumber + 1, pictureID(last.Payload, 2) + 1}, {last.SequenceNumber + 2, pictureID(last.Payload, 2) + 1}, {last.SequenceNumber + 3, pictureID(last.Payload, 2) + 2}}
		for i, p := range got {
			if p.SequenceNumber != want[i].seq || pictureID(p.Payload, 2) != want[i].pic {
				t.Errorf("reordered packet %d: seq %d picture %d, want %d %d", i, p.SequenceNumber, pictureID(p.Payload, 2), want[i].seq, want[i].pic)
			}
		}
		// A late packet of a dropped picture stays out after the cap
		// rose (it was sent under the number of a packet already sent).
		q, lastOut := p24+5, got[len(got)-1].SequenceNumber
		r.receive(tr, LayerLow, vp8TemporalPacket(q, 1027, 6, 2, false, false, 0)) // left out: cap 1
		down.setBandwidthLayer(LayerLow, 2)
		r.receive(tr, LayerLow, vp8TemporalPacket(q+2, 1028, 7, 0, false, false, 0)) // TID 0: the cap rises
		r.receive(tr, LayerLow, vp8TemporalPacket(q+1, 1027, 6, 2, false, false, 1)) // late, of picture 1027
		r.receive(tr, LayerLow, vp8TemporalPacket(q+3, 1028, 7, 0, false, false, 1))
		got = nil
		var fills []rtp.Packet
		for _, p := range parse(t, w.take()) {
			if len(p.Payload) == 0 {
				fills = append(fills, p)
			} else {
				got = append(got, p)
			}
		}
		if len(got) != 2 {
			t.Fatalf("late packet of a dropped picture: sent %d packets, want picture 1028's 2", len(got))
		}
		// The late packet's number was not taken out (packets after it
		// were sent already): the gap is filled with a padding packet,
		// and its NACK is not answered with a packet of the dropped
		// picture.
		if len(fills) != 1 || !fills[0].Padding || fills[0].SequenceNumber != lastOut+1 || fills[0].SSRC != subSSRC {
			t.Errorf("gap at %d: filled with %+v, want one padding packet", lastOut+1, fills)
		}
		for i, p := range got {
			if src := uint16(p.Payload[7])<<8 | uint16(p.Payload[8]); src != 1028 || p.SequenceNumber != lastOut+2+uint16(i) {
				t.Errorf("packet %d: picture %d, seq %d; want 1028, %d", i, src, p.SequenceNumber, lastOut+2+uint16(i))
			}
		}
		down.resend(&rtcp.TransportLayerNack{MediaSSRC: subSSRC, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{lastOut + 1})})
		if again := parse(t, w.take()); len(again) != 0 {
			t.Errorf("NACK for the gap: resent picture %d", uint16(again[0].Payload[7])<<8|uint16(again[0].Payload[8]))
		}
		// A late packet from before every remembered dropped group is
		// left out: its place in the numbering is not known any more.
		down.setBandwidthLayer(LayerLow, 1)
		base := q + 4
		r.receive(tr, LayerLow, vp8TemporalPacket(base, 1029, 8, 0, false, false, 0)) // its part 1 comes late
		for k := range uint16(temporalMemory + 1) {
			r.receive(tr, LayerLow, vp8TemporalPacket(base+2+2*k, 1030+2*k, 8, 2, false, false, 0))
			r.receive(tr, LayerLow, vp8TemporalPacket(base+3+2*k, 1031+2*k, 8, 0, false, false, 0))
		}
		w.take()
		r.receive(tr, LayerLow, vp8TemporalPacket(base+1, 1029, 8, 0, false, false, 1))
		if late := w.take(); len(late) != 0 {
			t.Errorf("a packet older than the %d remembered groups was sent", temporalMemory)
		}
		if n := r.sfu.metrics.drops[DropTemporal].Load(); n == 0 {
			t.Errorf("no packet counted as dropped for its temporal layer")
		}
	})
}

// TestAllocationBetweenLayersTakesTheUpperAtLowerFrameRate: a budget
// between two simulcast layers gives the upper one at half its frame
// rate when its temporal layers 0 and 1 fit; never at a quarter (TID 0
// alone), and never for a track without temporal layers.
func TestAllocationBetweenLayersTakesTheUpperAtLowerFrameRate(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t)
		pub, sub := r.peer(), r.peer()
		video := func(temporal bool) *DownTrack {
			tr := r.publish(pub, webrtc.MimeTypeVP8, "camera", 0x1000, 0x1001, 0x1002)
			for l, bps := range []uint64{150_000, 500_000, 1_500_000} {
				r.receive(tr, l, vp8(l, 1, 0, false, 100))
				la := tr.layerAt(l)
				la.rate.Store(bps)
				if temporal {
					la.temporal.Store(true)
					la.trate[0].Store(bps / 2)
					la.trate[1].Store(bps * 7 / 10)
					la.trate[2].Store(bps)
				}
			}
			d, _ := r.subscribe(sub, tr, binding{ssrc: 0x9000})
			return d
		}
		for _, c := range []struct {
			budget         uint64
			temporal       bool
			layer, tempCap int
		}{
			{400_000, true, LayerMedium, 1}, // 350k: medium at TID ≤ 1
			{340_000, true, LayerLow, 2},    // 250k would be TID 0 alone: low at full rate
			{600_000, true, LayerMedium, 2}, // medium fits
			{1_200_000, true, LayerHigh, 1}, // 1.05M: high at TID ≤ 1
			{400_000, false, LayerLow, 2},   // no temporal layers: low
		} {
			d := video(c.temporal)
			allocate([]*DownTrack{d}, c.budget)
			d.mu.Lock()
			got := fmt.Sprint(d.bwLayer, d.bwTemporal)
			d.mu.Unlock()
			if want := fmt.Sprint(c.layer, c.tempCap); got != want {
				t.Errorf("budget %d (temporal layers %v): layer and temporal cap %s, want %s", c.budget, c.temporal, got, want)
			}
		}
	})
}

// FuzzTemporalNumbering feeds a down-track a VP8 L1T3 stream built from
// the input — pictures of one to three packets, temporal layers, layer
// sync, the cap moved between pictures, neighbouring packets swapped
// (a jittery path) — and checks what a receiver relies on: no outgoing
// sequence number carries two different packets, no outgoing picture id
// two different pictures, a picture is sent whole or not at all, a NACK
// for a packet sent brings back the same payload and one for a gap
// (asked at once) nothing.
func FuzzTemporalNumbering(f *testing.F) {
	f.Add([]byte{0x00, 0x48, 0x24, 0x48, 0x01, 0x30, 0x80, 0x48, 0xff, 0x02})
	f.Add([]byte{0x10, 0x88, 0x88, 0x45, 0x41, 0x42, 0x80, 0x00, 0xc4, 0x13, 0x37, 0x99})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 400 {
			return
		}
		inBubble(t, func(t *testing.T) {
			r := newRig(t)
			tr := r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", 0x1000)
			down, w := r.subscribe(r.peer(), tr, binding{ssrc: subSSRC})
			type pkt struct {
				p    *rtp.Packet
				pic  uint16
				caps int // the cap set before this packet, -1: none
			}
			var stream []pkt
			seq := uint16(0xfff0)
			size := map[uint16]int{} // picture: packets
			for i, b := range in {
				// b: bits 0-1 TID, 2 sync, 3-4 packets-1, 5-6 cap (3: leave), 7 swap with the next.
				pic := uint16(i)
				tid, sync, n := b&3, b&4 != 0, int(b>>3&3)%3+1
				if tid == 3 {
					tid = 2
				}
				if i == 0 {
					tid = 0
				}
				caps := int(b >> 5 & 3)
				if caps == 3 || caps == 0 {
					caps = -1
				}
				size[pic] = n
				for part := range n {
					p := vp8TemporalPacket(seq, pic, uint8(i/4), tid, sync, i == 0, min(part, 1))
					if part > 0 {
						p.Payload[0] &^= 0x10 // not a picture start
					}
					p.Payload[9] = byte(part)
					c := -1
					if part == 0 {
						c = caps
					}
					stream = append(stream, pkt{p, pic, c})
					seq++
				}
			}
			for i, b := range in {
				if b&0x80 != 0 && i > 0 && 2*i+1 < len(stream) && stream[2*i].caps < 0 && stream[2*i+1].caps < 0 {
					stream[2*i], stream[2*i+1] = stream[2*i+1], stream[2*i]
				}
			}
			type orig struct {
				pic  uint16
				part byte
			}
			bySeq := map[uint16]orig{}
			byPic := map[uint16]uint16{} // outgoing picture id: original
			got := map[uint16]int{}
			var highest uint16
			started := false
			nack := func(seq uint16) []rtp.Packet {
				down.resend(&rtcp.TransportLayerNack{MediaSSRC: subSSRC, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{seq})})
				return parse(t, w.take())
			}
			for _, s := range stream {
				if s.caps >= 0 {
					down.setBandwidthLayer(LayerLow, s.caps)
				}
				r.receive(tr, LayerLow, s.p)
				sent := parse(t, w.take())
				for _, out := range sent {
					if len(out.Payload) == 0 { // padding filling a gap
						if _, ok := bySeq[out.SequenceNumber]; ok {
							t.Fatalf("padding sent under %d, a number already used", out.SequenceNumber)
						}
						bySeq[out.SequenceNumber] = orig{0xffff, 0xff}
						continue
					}
					// What a receiver asks at once: a gap before this
					// packet is not answered (a packet not yet come,
					// or one left out); this packet again is itself.
					if started && int16(out.SequenceNumber-highest) > 1 {
						for g := highest + 1; g != out.SequenceNumber; g++ {
							if again := nack(g); len(again) != 0 {
								t.Fatalf("NACK for the gap %d answered with picture %d", g, uint16(again[0].Payload[7])<<8|uint16(again[0].Payload[8]))
							}
						}
					}
					if !started || int16(out.SequenceNumber-highest) > 0 {
						highest, started = out.SequenceNumber, true
					}
					if again := nack(out.SequenceNumber); len(again) != 1 || !bytes.Equal(again[0].Payload, out.Payload) {
						t.Fatalf("NACK for %d: resent %d packets, not the one sent", out.SequenceNumber, len(again))
					}
				}
				for _, out := range sent {
					if len(out.Payload) == 0 {
						continue
					}
					o := orig{uint16(out.Payload[7])<<8 | uint16(out.Payload[8]), out.Payload[9]}
					if prev, ok := bySeq[out.SequenceNumber]; ok && prev != o {
						t.Fatalf("outgoing sequence number %d carries picture %d part %d and picture %d part %d", out.SequenceNumber, prev.pic, prev.part, o.pic, o.part)
					}
					bySeq[out.SequenceNumber] = o
					id := pictureID(out.Payload, 2)
					if prev, ok := byPic[id]; ok && prev != o.pic {
						t.Fatalf("outgoing picture id %d names pictures %d and %d", id, prev, o.pic)
					}
					byPic[id] = o.pic
					got[o.pic]++
				}
			}
			for pic, n := range got {
				if n != size[pic] {
					t.Errorf("picture %d: %d of its %d packets sent", pic, n, size[pic])
				}
			}
		})
	})
}
