package sfu

import (
	"testing"

	"github.com/pion/webrtc/v4"
)

// BenchmarkFanOut forwards one VP8 packet to 20 subscribers on the high
// layer through the real receive path (duplicate check, accounting,
// packet cache, each down-track's rewrite and abs-send-time stamp), to
// a transport that marshals like pion's and keeps nothing. allocs/op is
// the forwarding path's per-packet allocations plus the test
// transport's one per subscriber (20):
//
//	go test ./internal/sfu -run '^$' -bench FanOut -benchmem
func BenchmarkFanOut(b *testing.B) {
	r := newRig(b)
	tr := r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", 0x1000, 0x1001, 0x1002)
	seq := uint16(1)
	r.receive(tr, LayerHigh, vp8(LayerHigh, seq, 3000, true, 1100))
	for range 20 {
		d, _ := r.subscribe(r.peer(), tr, binding{ssrc: 0x9000, absID: 3, discard: true})
		d.SetPreference(LayerHigh, false)
	}
	raws := make([][]byte, 1024)
	for i := range raws {
		seq++
		raw, err := vp8(LayerHigh, seq, uint32(seq)*3000, i == 0, 1100).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		raws[i] = raw
	}
	l := tr.layerAt(LayerHigh)
	var p Packet
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		// Sequence numbers move on as the set is replayed, so no packet
		// is a duplicate of one the cache holds.
		raw := raws[i%len(raws)]
		s := seq + uint16(i)
		raw[2], raw[3] = byte(s>>8), byte(s)
		tr.handle(l, &p, raw)
		i++
	}
}
