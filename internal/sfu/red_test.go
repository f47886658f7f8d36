package sfu

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// opusFrame is a stand-in Opus frame unique to its sequence number.
func opusFrame(seq uint16) []byte {
	return []byte{0xfc, byte(seq >> 8), byte(seq), 0x55, byte(seq % 7)}
}

// TestREDEncodeSplit: what the encoder writes, the parser reads back —
// the frames of the two packets before, oldest first, with their
// timestamp offsets — and frames that cannot be described are left out.
func TestREDEncodeSplit(t *testing.T) {
	e := redEncoder{pt: ptOpus}
	type want struct {
		offsets []uint32
		seqs    []uint16 // of the frames carried, oldest first
	}
	cases := []struct {
		seq  uint16
		ts   uint32
		want want
	}{
		{10, 1000, want{}},
		{11, 1960, want{[]uint32{960}, []uint16{10}}},
		{12, 2920, want{[]uint32{1920, 960}, []uint16{10, 11}}},
		{13, 3880, want{[]uint32{1920, 960}, []uint16{11, 12}}},
		{12, 2920, want{}},                                    // reordered: alone, and not remembered
		{14, 3880 + 20000, want{}},                            // after a silence (DTX) too long to describe
		{16, 3880 + 20960, want{}},                            // 15 never came: 14 is not the packet before
		{17, 3880 + 21920, want{[]uint32{960}, []uint16{16}}}, // 15 is not the one before 16
	}
	var blocks []redBlock
	for _, c := range cases {
		payload := e.encode(nil, c.seq, c.ts, opusFrame(c.seq))
		primary, bl, err := splitRED(payload, blocks)
		if err != nil {
			t.Fatalf("seq %d: %v", c.seq, err)
		}
		blocks = bl
		if !bytes.Equal(primary, opusFrame(c.seq)) {
			t.Errorf("seq %d: primary % x", c.seq, primary)
		}
		if len(bl) != len(c.want.offsets) {
			t.Errorf("seq %d: %d earlier frames, want %d", c.seq, len(bl), len(c.want.offsets))
			continue
		}
		for i, b := range bl {
			if b.tsOffset != c.want.offsets[i] || !bytes.Equal(b.payload, opusFrame(c.want.seqs[i])) {
				t.Errorf("seq %d block %d: offset %d payload % x, want %d and frame %d", c.seq, i, b.tsOffset, b.payload, c.want.offsets[i], c.want.seqs[i])
			}
		}
		if h := payload[4*len(bl)]; h != ptOpus {
			t.Errorf("seq %d: primary block header %d, want %d", c.seq, h, ptOpus)
		}
	}
	// Sequence numbers wrap.
	w := redEncoder{pt: ptOpus}
	w.encode(nil, 0xffff, 0, opusFrame(0xffff))
	if _, bl, _ := splitRED(w.encode(nil, 0, 960, opusFrame(0)), nil); len(bl) != 1 || !bytes.Equal(bl[0].payload, opusFrame(0xffff)) {
		t.Errorf("across the wrap: %v", bl)
	}
}

// TestSplitREDRejectsGarbage: a header that runs past the end, lengths
// beyond the payload and endless headers are errors, not panics.
func TestSplitREDRejectsGarbage(t *testing.T) {
	for _, p := range [][]byte{
		nil,
		{0x80 | 111},                           // a redundant header cut short
		{0x80 | 111, 0, 0x04, 0x05, 111, 1},    // 5 bytes announced, 1 there
		bytes.Repeat([]byte{0x80, 0, 0, 0}, 9), // no end of headers
	} {
		if _, _, err := splitRED(p, nil); err == nil {
			t.Errorf("% x: no error", p)
		}
	}
	primary, blocks, err := splitRED([]byte{111}, nil)
	if err != nil || len(primary) != 0 || len(blocks) != 0 {
		t.Errorf("an empty primary: %v %v %v", primary, blocks, err)
	}
}

func FuzzSplitRED(f *testing.F) {
	e := redEncoder{pt: ptOpus}
	e.encode(nil, 1, 0, opusFrame(1))
	e.encode(nil, 2, 960, opusFrame(2))
	f.Add(e.encode(nil, 3, 1920, opusFrame(3)))
	f.Add([]byte{0x80 | 111, 0, 0x04, 0x05, 111, 1})
	f.Fuzz(func(t *testing.T, p []byte) {
		primary, blocks, err := splitRED(p, nil)
		if err != nil {
			return
		}
		n := len(primary) + 1
		for _, b := range blocks {
			n += 4 + len(b.payload)
			if b.tsOffset > redMaxOffset {
				t.Fatalf("offset %d", b.tsOffset)
			}
		}
		if n != len(p) {
			t.Fatalf("%d bytes accounted for, payload %d", n, len(p))
		}
	})
}

func TestSeenWindow(t *testing.T) {
	var w seenWindow
	steps := []struct {
		seq uint16
		dup bool
	}{{100, false}, {101, false}, {101, true}, {103, false}, {102, false}, {102, true}, {100, true},
		{103 - 63, false}, {103 - 64, false}, {200, false}, {137, false}, {137, true}, {65535, false}}
	for _, s := range steps {
		if got := w.mark(s.seq); got != s.dup {
			t.Errorf("mark(%d) = %v, want %v", s.seq, got, s.dup)
		}
	}
}

// redPacket is what a browser publishing RED sends: the frame of seq and
// the frames of the two packets before it.
// publishREDMic publishes a microphone (SSRC 0x5001) whose publisher
// sends Opus (111) inside RED.
func (r *rig) publishREDMic() *Track {
	tr := r.publish(r.peer(), webrtc.MimeTypeOpus, "microphone", 0x5001)
	tr.codec.PayloadType, tr.redPT = 111, ptRED
	return tr
}

func redPacket(e *redEncoder, seq uint16) *rtp.Packet {
	ts := 960 * uint32(seq)
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: ptRED, SequenceNumber: seq, Timestamp: ts, SSRC: 0x5001},
		Payload: e.encode(nil, seq, ts, opusFrame(seq))}
}

// TestUplinkLossRecoveredFromRED: a publisher sending RED loses every
// tenth packet on its uplink; a subscriber receiving plain Opus still
// gets every frame, in order, with its own number and timestamp — the
// server took the lost ones from the next packet's redundancy — and a lost
// packet that turns up late is not sent twice.
func TestUplinkLossRecoveredFromRED(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t)
		tr := r.publishREDMic()
		_, w := r.subscribe(r.peer(), tr, binding{ssrc: subSSRC})
		pub := redEncoder{pt: 111}
		const n = 205
		for seq := uint16(1); seq <= n; seq++ {
			p := redPacket(&pub, seq)
			if seq%10 != 0 {
				r.receive(tr, 0, p)
			}
			if seq == 35 { // 30's own packet, very late
				r.receive(tr, 0, redPacket(&redEncoder{pt: 111}, 30))
			}
			time.Sleep(20 * time.Millisecond)
		}
		got := parse(t, w.take())
		if len(got) != n {
			t.Fatalf("the subscriber got %d packets, want %d", len(got), n)
		}
		first := got[0]
		for i, p := range got {
			seq := uint16(1 + i)
			if p.PayloadType != subPT || p.SequenceNumber != first.SequenceNumber+uint16(i) || p.Timestamp != first.Timestamp+960*uint32(i) {
				t.Fatalf("packet %d: pt %d seq %d ts %d", i, p.PayloadType, p.SequenceNumber, p.Timestamp)
			}
			if !bytes.Equal(p.Payload, opusFrame(seq)) {
				t.Fatalf("packet %d carries % x, want frame %d", i, p.Payload, seq)
			}
		}
		s := r.sfu.metrics.Snapshot()
		if s.Recovered != n/10 || s.Drops[DropDuplicate] != 1 {
			t.Errorf("%d recovered, %d duplicates: want %d and 1", s.Recovered, s.Drops[DropDuplicate], n/10)
		}
	})
}

// TestSubscribersGetRED: a subscriber that negotiated RED and reported a
// loss gets every frame twice more, in the two packets after its own,
// whatever the publisher sends; losing every tenth packet on its downlink
// it still has every frame, at its timestamp. One that reported no loss,
// or whose bandwidth cap leaves no room for the copies (unless its loss is
// heavy: audio then comes before video), gets RED with the frame alone:
// it loses what it loses. Without RED negotiated (or with
// NoAudioRED) it gets Opus alone.
func TestSubscribersGetRED(t *testing.T) {
	red := []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: ptOpus},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"}, PayloadType: ptRED},
	}
	for _, c := range []struct {
		name         string
		codecs       []webrtc.RTPCodecParameters
		off          bool
		lost, capped bool
		heavy        bool // loss over highLoss after repair
		wantPT       uint8
		redundancy   bool
	}{
		{"red after a loss", red, false, true, false, false, ptRED, true},
		{"red without loss", red, false, false, false, false, ptRED, false},
		{"red without room", red, false, true, true, false, ptRED, false},
		{"red without room, heavy loss", red, false, true, true, true, ptRED, true},
		{"opus only", red[:1], false, true, false, false, ptOpus, false},
		{"NoAudioRED", red, true, true, false, false, ptOpus, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				r := newRig(t)
				r.sfu.opts.NoAudioRED = c.off
				tr := r.publish(r.peer(), webrtc.MimeTypeOpus, "microphone", 0x5001)
				sub := r.peer()
				if c.lost {
					sub.bwe.lostAt.Store(nanotime())
				}
				if c.heavy {
					sub.bwe.highLossAt.Store(nanotime())
				}
				_, w := r.subscribe(sub, tr, binding{ssrc: subSSRC, codecs: c.codecs})
				const n = 100
				for seq := uint16(1); seq <= n; seq++ {
					if c.capped { // as the allocation loop finds it, twice a second
						sub.bwe.noRoom.Store(true)
					}
					r.receive(tr, 0, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq,
						Timestamp: 960 * uint32(seq), SSRC: 0x5001}, Payload: opusFrame(seq)})
					time.Sleep(20 * time.Millisecond)
				}
				got := parse(t, w.take())
				if len(got) != n {
					t.Fatalf("%d packets, want %d", len(got), n)
				}
				// The receiver loses every tenth packet and rebuilds the
				// frames, by timestamp, from what it has.
				frames := map[uint32][]byte{}
				for i, p := range got {
					if p.PayloadType != c.wantPT {
						t.Fatalf("payload type %d, want %d", p.PayloadType, c.wantPT)
					}
					if (i+1)%10 == 0 {
						continue
					}
					if p.PayloadType != ptRED {
						frames[p.Timestamp] = p.Payload
						continue
					}
					primary, blocks, err := splitRED(p.Payload, nil)
					if err != nil {
						t.Fatal(err)
					}
					frames[p.Timestamp] = primary
					for _, b := range blocks {
						frames[p.Timestamp-b.tsOffset] = b.payload
					}
				}
				missing := 0
				for i := range n - 1 { // the last packet has nothing after it
					ts := got[0].Timestamp + 960*uint32(i)
					f, ok := frames[ts]
					if !ok {
						missing++
						continue
					}
					if !bytes.Equal(f, opusFrame(uint16(i+1))) {
						t.Fatalf("frame at %d is % x, want frame %d", ts, f, i+1)
					}
				}
				want := (n - 1) / 10
				if c.redundancy {
					want = 0
				}
				if missing != want {
					t.Errorf("%d frames missing after losing every tenth packet, want %d", missing, want)
				}
			})
		})
	}
}
