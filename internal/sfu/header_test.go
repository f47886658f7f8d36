package sfu

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

func codec(mime, fmtp string, pt uint8) webrtc.RTPCodecParameters {
	clock := uint32(90000)
	if mime == webrtc.MimeTypeOpus {
		clock = 48000
	}
	return webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mime, ClockRate: clock,
		SDPFmtpLine: fmtp}, PayloadType: webrtc.PayloadType(pt)}
}

const (
	h264Base = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"
	h264CB   = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
)

// TestBindPayloadType checks that a down-track sends with the payload type
// and SSRC the subscriber's connection negotiated for the track's codec,
// H.264 profiles included, and refuses a connection without the codec.
func TestBindPayloadType(t *testing.T) {
	cases := []struct {
		name   string
		mime   string // the published codec
		fmtp   string
		offer  []webrtc.RTPCodecParameters // what the subscriber negotiated
		wantPT uint8                       // 0: unsupported
	}{
		{"vp8 among others", webrtc.MimeTypeVP8, "",
			[]webrtc.RTPCodecParameters{codec(webrtc.MimeTypeOpus, "", 111), codec(webrtc.MimeTypeH264, h264Base, 102), codec(webrtc.MimeTypeVP8, "", 120)}, 120},
		{"mime type case", webrtc.MimeTypeVP8, "",
			[]webrtc.RTPCodecParameters{codec("video/vp8", "", 98)}, 98},
		{"h264 by profile", webrtc.MimeTypeH264, h264CB,
			[]webrtc.RTPCodecParameters{codec(webrtc.MimeTypeH264, h264Base, 102), codec(webrtc.MimeTypeH264, h264CB, 108)}, 108},
		{"h264 without the profile", webrtc.MimeTypeH264, h264CB,
			[]webrtc.RTPCodecParameters{codec(webrtc.MimeTypeH264, h264Base, 102)}, 0},
		{"opus", webrtc.MimeTypeOpus, "",
			[]webrtc.RTPCodecParameters{codec(webrtc.MimeTypeOpus, "", 109)}, 109},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				r := newRig(t)
				tr := r.publish(r.peer(), c.mime, "camera", 0x1000)
				tr.codec.SDPFmtpLine = c.fmtp
				d := newDownTrack(tr, r.peer())
				w := &wire{}
				const ssrc = 0x7777
				got, err := d.Bind(bindContext{binding{ssrc: ssrc, codecs: c.offer}, w})
				if c.wantPT == 0 {
					if !errors.Is(err, webrtc.ErrUnsupportedCodec) {
						t.Fatalf("bound %v, %v; want ErrUnsupportedCodec", got, err)
					}
					if n := d.WriteRTP(&Packet{Packet: rtp.Packet{Payload: []byte{1}}}); n != 0 {
						t.Errorf("unbound down-track wrote %d bytes", n)
					}
					return
				}
				if err != nil || uint8(got.PayloadType) != c.wantPT {
					t.Fatalf("bound %d, %v; want %d", got.PayloadType, err, c.wantPT)
				}
				tr.AddSink(d)
				pkt := vp8(0, 1, 0, true, 100)
				switch c.mime {
				case webrtc.MimeTypeH264:
					pkt.Payload = []byte{0x65, 0x88, 0x80} // an IDR slice
				case webrtc.MimeTypeOpus:
					pkt.Payload = []byte{0xfc, 0xff, 0xfe}
				}
				r.receive(tr, 0, pkt)
				out := parse(t, w.take())
				if len(out) != 1 || out[0].PayloadType != c.wantPT || out[0].SSRC != ssrc {
					t.Fatalf("sent %+v, want one packet with pt %d ssrc %#x", out, c.wantPT, ssrc)
				}
			})
		})
	}
}

// TestHeaderExtensions checks the header a subscriber receives: the
// publisher's extension ids mean nothing on the subscriber's connection,
// so they are all removed, and only the server's own abs-send-time goes
// out when it was negotiated; marker, CSRCs, padding and payload pass
// through untouched.
func TestHeaderExtensions(t *testing.T) {
	in := func(seq uint16, key bool) *rtp.Packet {
		p := vp8(0, seq, 9000*uint32(seq), key, 120)
		p.Marker, p.CSRC = true, []uint32{11, 22}
		p.Padding, p.PaddingSize = true, 4
		for id, v := range map[uint8][]byte{1: {0x90}, 4: []byte("0"), 10: []byte("h")} { // audio level, mid, rid
			if err := p.SetExtension(id, v); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	// Id 4 is the publisher's mid: the subscriber's abs-send-time under the
	// same id must replace it, not keep the publisher's bytes.
	for _, absID := range []int{0, 4} {
		t.Run(fmt.Sprintf("abs-send-time id %d", absID), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				r := newRig(t)
				tr := r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", 0x1000)
				_, w := r.subscribe(r.peer(), tr, binding{ssrc: subSSRC, absID: absID})
				var abs []uint32
				for i, gap := range []time.Duration{0, time.Second, 250 * time.Millisecond} {
					time.Sleep(gap)
					p := in(uint16(100+i), i == 0)
					r.receive(tr, 0, p)
					out := parse(t, w.take())
					if len(out) != 1 {
						t.Fatalf("abs id %d, packet %d: %d out", absID, i, len(out))
					}
					o := out[0]
					if !o.Marker || !slices.Equal(o.CSRC, p.CSRC) || !o.Padding || o.PaddingSize != 4 || !bytes.Equal(o.Payload, p.Payload) {
						t.Errorf("abs id %d: marker %v csrc %v padding %v/%d payload % x; want the publisher's %v %v %v/%d % x",
							absID, o.Marker, o.CSRC, o.Padding, o.PaddingSize, o.Payload, p.Marker, p.CSRC, p.Padding, p.PaddingSize, p.Payload)
					}
					ids := o.GetExtensionIDs()
					if absID == 0 {
						if o.Extension || len(ids) != 0 {
							t.Errorf("no abs-send-time negotiated: extensions %v sent", ids)
						}
						continue
					}
					v := o.GetExtension(uint8(absID))
					if !slices.Equal(ids, []uint8{uint8(absID)}) || len(v) != 3 {
						t.Fatalf("extensions %v, abs-send-time % x; want only id %d, 3 bytes", ids, v, absID)
					}
					abs = append(abs, uint32(v[0])<<16|uint32(v[1])<<8|uint32(v[2]))
				}
				if absID != 0 {
					// 6.18 fixed-point seconds, 24 bits: 1 s is 1<<18, 250 ms 1<<16.
					if d1, d2 := (abs[1]-abs[0])&0xffffff, (abs[2]-abs[1])&0xffffff; d1 != 1<<18 || d2 != 1<<16 {
						t.Errorf("abs-send-time steps %d and %d over 1 s and 250 ms, want %d and %d", d1, d2, 1<<18, 1<<16)
					}
				}
			})
		})
	}
}

// TestSenderReport checks the RTCP sender report a subscriber gets for a
// down-track at each allocation tick (RFC 3550 §6.4.1): the subscriber's
// SSRC, the wall-clock time in NTP format with the outgoing RTP time of
// that instant (the last timestamp sent, advanced by the time since it
// went out), and the packets and payload octets sent. Browsers align a
// participant's audio and video with it.
func TestSenderReport(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t) // the bubble's clock starts at 2000-01-01 00:00:00 UTC
		tr := r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", 0x1000)
		r.subscribe(r.peer(), tr, binding{ssrc: subSSRC})
		for i, at := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 90 * time.Millisecond} {
			r.sleepUntil(at)
			r.receive(tr, 0, vp8(0, uint16(1+i), 1000+perFrame*uint32(i), i == 0, 200))
		}
		r.sleepUntil(600 * time.Millisecond) // past the tick at 500 ms
		var srs []*rtcp.SenderReport
		r.subRTCP.mu.Lock()
		for _, s := range r.subRTCP.pkts {
			if sr, ok := s.pkt.(*rtcp.SenderReport); ok {
				srs = append(srs, sr)
			}
		}
		r.subRTCP.mu.Unlock()
		// NTP time: seconds from 1900 to 2000, then 0.5 s as a 32-bit fraction.
		const ntp2000 = 3155673600
		want := rtcp.SenderReport{SSRC: subSSRC, NTPTime: ntp2000<<32 | 1<<31,
			RTPTime: 1000 + 2*perFrame + 90*(500-90), PacketCount: 3, OctetCount: 3 * (200 - 12)}
		if len(srs) != 1 || srs[0].SSRC != want.SSRC || srs[0].NTPTime != want.NTPTime || srs[0].RTPTime != want.RTPTime ||
			srs[0].PacketCount != want.PacketCount || srs[0].OctetCount != want.OctetCount {
			t.Fatalf("sender reports %+v, want one like %+v", srs, want)
		}
	})
}
