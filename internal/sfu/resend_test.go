package sfu

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// nack sends the subscriber's NACK for outgoing sequence numbers through
// the bytes of an RTCP packet, as DownTrack.readRTCP receives it, and
// returns the raw packets the down-track resent.
func (f *fixture) nack(t *testing.T, seqs ...uint16) [][]byte {
	t.Helper()
	raw, err := (&rtcp.TransportLayerNack{MediaSSRC: subSSRC, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := rtcp.Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	f.wire.take()
	f.down.resend(pkts[0].(*rtcp.TransportLayerNack))
	return f.wire.take()
}

// forward feeds packets of one layer, the first a keyframe, and records
// what went out by outgoing sequence number.
func (f *fixture) forward(t *testing.T, sent map[uint16][]byte, layer int, seqs ...uint16) {
	t.Helper()
	for _, s := range seqs {
		f.rig.receive(f.track, layer, vp8(layer, s, 1000*uint32(s), s == seqs[0], 300))
	}
	for _, b := range f.wire.take() {
		sent[uint16(b[2])<<8|uint16(b[3])] = b
	}
}

// TestResendMapping checks that a NACK for an outgoing sequence number is
// answered with the very bytes first sent under that number, rebuilt from
// the right layer's packet cache through the offsets of the run the
// number was sent in; and that numbers never sent (also those of packets
// cached while the subscriber paused), lost before reaching the server,
// evicted from the cache or older than the remembered runs are not
// answered.
func TestResendMapping(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, false)
		sent := map[uint16][]byte{}
		f.down.SetPreference(LayerLow, false)
		f.forward(t, sent, 0, 1000, 1001, 1002, 1003, 1004, 1005) // out 1000-1005
		f.forward(t, sent, 2, 40000)                              // not the target yet: keeps layer 2 available
		f.down.SetPreference(LayerHigh, false)                    // switch on the next layer-2 keyframe
		f.forward(t, sent, 2, 50000, 50001, 50002, 50004, 50005)  // out 1006-1008, 1010, 1011: 50003 was lost
		if want := []uint16{1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1010, 1011}; !slices.Equal(sortedKeys(sent), want) {
			t.Fatalf("forwarded %v, want %v", sortedKeys(sent), want)
		}
		retransmits := func() uint64 { return f.rig.sfu.metrics.Snapshot().Retransmits }

		cases := []struct {
			name string
			nack []uint16
			want []uint16 // resent, in order
		}{
			{"current run", []uint16{1007}, []uint16{1007}},
			{"first packet of the current run", []uint16{1006}, []uint16{1006}},
			{"before the switch: the old layer's packet", []uint16{1003}, []uint16{1003}},
			{"last packet before the switch", []uint16{1005}, []uint16{1005}},
			{"lost before reaching the server", []uint16{1009}, nil},
			{"never sent: after the last", []uint16{1012, 1013}, nil},
			{"never sent: before the first", []uint16{999}, nil},
			{"several in one NACK, across the switch", []uint16{1004, 1006, 1009, 1011}, []uint16{1004, 1006, 1011}},
		}
		for _, c := range cases {
			before := retransmits()
			got := f.nack(t, c.nack...)
			if err := sameBytes(got, sent, c.want); err != nil {
				t.Errorf("%s: NACK %v: %v", c.name, c.nack, err)
			}
			if n := retransmits() - before; n != uint64(len(c.want)) {
				t.Errorf("%s: %d retransmits counted, want %d", c.name, n, len(c.want))
			}
		}

		// Packets that arrive while the subscriber paused the track are
		// cached but not sent: the numbers they would have had are not
		// answered.
		f.down.SetPreference(LayerHigh, true)
		f.forward(t, sent, 2, 50006, 50007, 50008, 50009)
		if err := sameBytes(f.nack(t, 1012, 1013), sent, nil); err != nil {
			t.Errorf("paused: %v", err)
		}
		f.down.SetPreference(LayerHigh, false)

		// 512 newer layer-2 packets (out 1012-1523, a new run after the
		// pause) evict the layer's first ones (out 1006-1011) from its
		// cache; the low layer's cache still holds its own.
		var more []uint16
		for s := uint16(50010); s < 50010+512; s++ {
			more = append(more, s)
		}
		f.forward(t, sent, 2, more...)
		if err := sameBytes(f.nack(t, 1006, 1011, 1003), sent, []uint16{1003}); err != nil {
			t.Errorf("after eviction: %v", err)
		}
		last := uint16(1012 + 511)
		if err := sameBytes(f.nack(t, last), sent, []uint16{last}); err != nil {
			t.Errorf("newest after eviction: %v", err)
		}

		// The down-track remembers its last 64 runs (a temporal layer
		// dropped opens one, temporal.go): with 64 in all the first is
		// still answered; after one more it is forgotten, even though
		// the low layer's cache still holds it.
		layer, low, high := 0, uint16(1100), uint16(60000)
		for f.down.nRuns < len(f.down.runs)+1 {
			if f.down.nRuns == len(f.down.runs) {
				if err := sameBytes(f.nack(t, 1003), sent, []uint16{1003}); err != nil {
					t.Errorf("first of %d runs: %v", len(f.down.runs), err)
				}
			}
			f.down.SetPreference(layer, false)
			if layer == 0 {
				f.forward(t, sent, 0, low, low+1)
				low += 2
			} else {
				f.forward(t, sent, 2, high, high+1)
				high += 2
			}
			layer = 2 - layer
		}
		if err := sameBytes(f.nack(t, 1003), sent, nil); err != nil {
			t.Errorf("first of %d runs: %v", f.down.nRuns, err)
		}
		if buf, ok := f.track.cacheOf(0).Get(1003, nil); !ok || !bytes.Equal(buf[12:], vp8(0, 1003, 1003000, false, 300).Payload) {
			t.Errorf("low layer cache lost packet 1003: the check above proves nothing")
		}
	})
}

// sameBytes checks that got holds exactly the packets first sent as want,
// byte for byte.
func sameBytes(got [][]byte, sent map[uint16][]byte, want []uint16) error {
	if len(got) != len(want) {
		var seqs []uint16
		for _, b := range got {
			seqs = append(seqs, uint16(b[2])<<8|uint16(b[3]))
		}
		return fmt.Errorf("resent %v, want %v", seqs, want)
	}
	for i, s := range want {
		if !bytes.Equal(got[i], sent[s]) {
			return fmt.Errorf("resent %d as\n% x\nfirst sent as\n% x", s, got[i], sent[s])
		}
	}
	return nil
}

func sortedKeys(m map[uint16][]byte) []uint16 {
	var k []uint16
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}

// TestNoResendWithinARoundTrip: a NACK for a packet resent less than a
// round trip ago is not answered (it crossed the repair); one after a
// round trip is. Without a measured round trip every NACK is answered.
func TestNoResendWithinARoundTrip(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, false)
		sent := map[uint16][]byte{}
		f.down.SetPreference(LayerLow, false)
		f.forward(t, sent, 0, 1000, 1001, 1002)
		if got := f.nack(t, 1001); len(got) != 1 {
			t.Fatalf("first NACK: %d packets resent, want 1", len(got))
		}
		if got := f.nack(t, 1001); len(got) != 1 {
			t.Fatalf("no round trip known: %d packets resent, want 1", len(got))
		}
		f.down.peer.bwe.setRTT(80*time.Millisecond, nanotime())
		if got := f.nack(t, 1001); len(got) != 0 {
			t.Errorf("resent just now, round trip 80 ms: %d packets resent, want none", len(got))
		}
		time.Sleep(50 * time.Millisecond)
		if got := f.nack(t, 1001, 1002); len(got) != 1 || uint16(got[0][2])<<8|uint16(got[0][3]) != 1002 {
			t.Errorf("50 ms later, round trip 80 ms: resent %d packets, want only 1002", len(got))
		}
		time.Sleep(31 * time.Millisecond)
		if got := f.nack(t, 1001); len(got) != 1 {
			t.Errorf("a round trip later: %d packets resent, want 1", len(got))
		}
		if n := f.rig.sfu.metrics.drops[DropResendSoon].Load(); n != 2 {
			t.Errorf("%d NACKs counted as too soon, want 2", n)
		}
	})
}
