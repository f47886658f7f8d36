package sfu

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

type trackLog struct {
	mu               sync.Mutex
	published, ended []string
}

func (h *trackLog) TrackPublished(_ *Peer, t *Track) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.published = append(h.published, t.ID())
}

func (h *trackLog) TrackEnded(_ *Peer, t *Track) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = append(h.ended, t.ID())
}

func (h *trackLog) ConnectionChanged(*Peer, bool) {}

type packetLog struct {
	mu   sync.Mutex
	pkts []Packet
}

func (s *packetLog) WriteRTP(p *Packet) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *p
	c.Payload = append([]byte(nil), p.Payload...)
	s.pkts = append(s.pkts, c)
	return len(p.Payload)
}

// TestRelayPeer: a relay peer's track (cascading) is announced to its
// handler like any, hands the packets fed to it, layer by layer, to its
// sinks (a packet fed twice once), sends keyframe requests back through
// the peer's keyframe function, and ends when told.
func TestRelayPeer(t *testing.T) {
	s, err := New(Options{UDPPort: 0, TCPPort: -1, Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := &trackLog{}
	type key struct {
		track string
		layer int
	}
	keys := make(chan key, 4)
	p := s.NewRelayPeer("PA_remote", h, func(track string, layer int) { keys <- key{track, layer} })
	vp8 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
	if _, err := p.PublishRelayed(RelayedTrack{ID: "TR_x", Kind: "data", Codec: vp8}); err == nil {
		t.Error("a relayed track of no media kind was published")
	}
	tr, err := p.PublishRelayed(RelayedTrack{ID: "TR_x", Kind: "video", Source: "camera", Codec: vp8, Simulcast: []string{"q", "h", "f"}})
	if err != nil {
		t.Fatal(err)
	}
	if info := tr.Info(); info.ID != "TR_x" || info.OwnerID != "PA_remote" || info.Source != "camera" || len(h.published) != 1 {
		t.Fatalf("track %+v, published %v", info, h.published)
	}
	sink := &packetLog{}
	tr.AddSink(sink)
	feed := func(layer int, ssrc uint32, seq uint16) {
		raw, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, SSRC: ssrc},
			Payload: []byte{0x10, 0, 0, 0, 1, 2, 3}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		tr.Feed(layer, raw)
	}
	feed(0, 11, 100)
	feed(2, 33, 500)
	feed(0, 11, 101)
	feed(0, 11, 101) // again: a duplicate
	tr.Feed(1, []byte{0x80, 96})
	sink.mu.Lock()
	got := append([]Packet(nil), sink.pkts...)
	sink.mu.Unlock()
	if len(got) != 3 || got[0].Layer != 0 || got[0].SequenceNumber != 100 || got[1].Layer != 2 || got[1].SSRC != 33 || got[2].SequenceNumber != 101 {
		t.Fatalf("sink got %d packets: %+v", len(got), got)
	}
	tr.RequestKeyframe(2)
	select {
	case k := <-keys:
		if k != (key{"TR_x", 2}) {
			t.Errorf("keyframe request %+v", k)
		}
	case <-time.After(time.Second):
		t.Fatal("no keyframe request reached the home node")
	}
	p.EndRelayed("TR_x")
	select {
	case <-tr.Done():
	default:
		t.Fatal("the relayed track did not end")
	}
	if len(h.ended) != 1 {
		t.Errorf("ended: %v", h.ended)
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
	if _, err := p.PublishRelayed(RelayedTrack{ID: "TR_y", Kind: "audio", Codec: vp8}); err == nil {
		t.Error("a closed relay peer published")
	}
	q, err := s.NewPeer("PA_local", nopSignaler{}, nopHandler{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := q.PublishRelayed(RelayedTrack{ID: "TR_z", Kind: "audio", Codec: vp8}); err == nil {
		t.Error("a client's peer published a relayed track")
	}
}
