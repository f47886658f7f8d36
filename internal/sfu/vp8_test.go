package sfu

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// vp8Numbered is a one-packet VP8 frame whose descriptor carries a 15-bit
// picture id and a TL0PICIDX, as Chrome sends simulcast.
func vp8Numbered(layer int, seq, pic uint16, tl0 uint8, key bool) *rtp.Packet {
	frame := byte(0x01)
	if key {
		frame = 0x00
	}
	payload := []byte{0x90, 0xc0, 0x80 | byte(pic>>8), byte(pic), tl0, frame, byte(layer), byte(seq >> 8), byte(seq), 0, 0, 0}
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 3000 * uint32(seq),
		SSRC: 0x1000 + uint32(layer), Marker: true}, Payload: payload}
}

// TestLayerSwitchKeepsVP8PictureNumbering: each simulcast layer numbers
// its pictures on its own; a subscriber moved from one to another gets
// picture ids and TL0PICIDX that go on from the last ones it got (Chrome
// otherwise held the frames after the switch until another keyframe, as
// seen after an outage: 2.2-2.7 s in a third of the runs), the rest of
// the payload untouched, and a retransmission the same bytes as first
// sent. Numbers wrap (2^15, 2^8).
func TestLayerSwitchKeepsVP8PictureNumbering(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, false)
		f.down.SetPreference(LayerLow, false)
		var sent []rtp.Packet
		feed := func(layer int, seq, pic uint16, tl0 uint8, key bool) {
			f.rig.receive(f.track, layer, vp8Numbered(layer, seq, pic, tl0, key))
			sent = append(sent, parse(t, f.wire.take())...)
			time.Sleep(33 * time.Millisecond)
		}
		feed(0, 100, 32766, 254, true)
		feed(0, 101, 32767, 255, false)
		feed(2, 9000, 500, 17, true) // keeps the high layer available
		f.down.SetPreference(LayerHigh, false)
		feed(2, 9001, 501, 18, true)
		feed(0, 102, 0, 0, false)
		feed(2, 9002, 502, 19, false)
		feed(2, 9003, 503, 20, false)
		if len(sent) != 5 {
			t.Fatalf("the subscriber got %d packets, want 5", len(sent))
		}
		wantPic := []uint16{32766, 32767, 0, 1, 2}
		wantTl0 := []uint8{254, 255, 0, 1, 2}
		for i, p := range sent {
			pic, tl0 := pictureID(p.Payload, 2), p.Payload[4]
			if pic != wantPic[i] || tl0 != wantTl0[i] || p.Payload[2]&0x80 == 0 {
				t.Errorf("packet %d (seq %d): picture %d, TL0PICIDX %d; want %d, %d", i, p.SequenceNumber, pic, tl0, wantPic[i], wantTl0[i])
			}
			if src := p.Payload[6:]; i >= 2 && src[0] != 2 {
				t.Errorf("packet %d: payload % x is not the high layer's", i, src)
			}
		}
		raw, _ := sent[4].Marshal()
		again := f.nack(t, sent[4].SequenceNumber)
		if len(again) != 1 {
			t.Fatalf("resent %d packets, want 1", len(again))
		}
		var p rtp.Packet
		if err := p.Unmarshal(again[0]); err != nil || !bytes.Equal(p.Payload, sent[4].Payload) {
			t.Errorf("resent payload % x, first sent % x (%v, %d bytes first)", p.Payload, sent[4].Payload, err, len(raw))
		}
	})
}

func TestVP8Numbers(t *testing.T) {
	for _, c := range []struct {
		name         string
		p            []byte
		picAt, tl0At int
	}{
		{"no extension", []byte{0x10, 0x00}, -1, -1},
		{"15-bit id and TL0PICIDX", []byte{0x90, 0xc0, 0x81, 0x02, 7, 0}, 2, 4},
		{"7-bit id left alone", []byte{0x90, 0xc0, 0x05, 7, 0}, -1, 3},
		{"TL0PICIDX alone", []byte{0x90, 0x40, 7, 0}, -1, 2},
		{"truncated id", []byte{0x90, 0x80, 0x81}, -1, -1},
		{"truncated extension", []byte{0x90}, -1, -1},
	} {
		if picAt, tl0At := vp8Numbers(c.p); picAt != c.picAt || tl0At != c.tl0At {
			t.Errorf("%s: %d, %d; want %d, %d", c.name, picAt, tl0At, c.picAt, c.tl0At)
		}
	}
}

// TestRetransmissionsAsRTX: a subscriber that negotiated RTX for the
// codec gets a NACKed packet on the RTX SSRC and payload type, numbered
// on its own, the original sequence number first in the payload and the
// original payload after it (RFC 4588 §4); one that did not gets it on
// the media SSRC.
func TestRetransmissionsAsRTX(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t)
		tr := r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", 0x1000)
		codecs := []webrtc.RTPCodecParameters{
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96"}, PayloadType: 97},
		}
		const rtxSSRC = 0xabcd
		down, w := r.subscribe(r.peer(), tr, binding{ssrc: subSSRC, rtx: rtxSSRC, codecs: codecs})
		for seq := uint16(10); seq < 14; seq++ {
			r.receive(tr, 0, vp8Numbered(0, seq, 100+seq, 1, seq == 10))
		}
		sent := parse(t, w.take())
		if len(sent) != 4 {
			t.Fatalf("forwarded %d packets, want 4", len(sent))
		}
		var got []rtp.Packet
		for _, i := range []int{1, 3, 1} {
			down.resend(&rtcp.TransportLayerNack{MediaSSRC: subSSRC, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{sent[i].SequenceNumber})})
			got = append(got, parse(t, w.take())...)
		}
		if len(got) != 3 {
			t.Fatalf("resent %d packets, want 3", len(got))
		}
		for k, i := range []int{1, 3, 1} {
			p := got[k]
			osn := uint16(p.Payload[0])<<8 | uint16(p.Payload[1])
			if p.SSRC != rtxSSRC || p.PayloadType != 97 || osn != sent[i].SequenceNumber || !bytes.Equal(p.Payload[2:], sent[i].Payload) ||
				p.Timestamp != sent[i].Timestamp {
				t.Errorf("resend %d: ssrc %x pt %d osn %d ts %d; want %x, 97, %d, %d, the same payload", k, p.SSRC, p.PayloadType, osn, p.Timestamp, rtxSSRC, sent[i].SequenceNumber, sent[i].Timestamp)
			}
			if k > 0 && p.SequenceNumber != got[k-1].SequenceNumber+1 {
				t.Errorf("RTX sequence numbers %d then %d: want consecutive", got[k-1].SequenceNumber, p.SequenceNumber)
			}
		}

		// Without RTX negotiated: the media SSRC, the original number.
		down2, w2 := r.subscribe(r.peer(), tr, binding{ssrc: subSSRC, rtx: rtxSSRC, codecs: codecs[:1]})
		r.receive(tr, 0, vp8Numbered(0, 14, 114, 2, true))
		first := parse(t, w2.take())
		down2.resend(&rtcp.TransportLayerNack{MediaSSRC: subSSRC, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{first[0].SequenceNumber})})
		if again := parse(t, w2.take()); len(again) != 1 || again[0].SSRC != subSSRC || again[0].SequenceNumber != first[0].SequenceNumber {
			t.Errorf("without RTX: resent %+v, want the packet on the media SSRC", again)
		}
	})
}
