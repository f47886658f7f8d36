package sfu

import (
	"errors"
	"strings"
	"testing"
)

const chromeLikeOffer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"a=msid-semantic: WMS stream\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
	"a=setup:actpass\r\na=mid:0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=sendonly\r\n" +
	"a=msid:stream track\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:1 cname:x\r\n"

func TestCheckOffer(t *testing.T) {
	if err := checkOffer(chromeLikeOffer); err != nil {
		t.Fatalf("valid offer rejected: %v", err)
	}
	if err := checkOffer("garbage"); !errors.Is(err, ErrBadSDP) {
		t.Errorf("garbage: %v", err)
	}
	pcmu := strings.ReplaceAll(strings.ReplaceAll(chromeLikeOffer, "opus/48000/2", "PCMU/8000"), "111", "0")
	if err := checkOffer(pcmu); !errors.Is(err, ErrNoSupportedCodec) {
		t.Errorf("PCMU-only offer: %v", err)
	}
}

// FuzzHandleOffer feeds arbitrary SDP to the publisher side of a real
// peer, the path a client's offer takes: errors are fine, panics are not.
func FuzzHandleOffer(f *testing.F) {
	f.Add(chromeLikeOffer)
	f.Add("v=0\r\n")
	f.Add(strings.Replace(chromeLikeOffer, "m=audio", "m=video", 1))
	s, err := New(Options{UDPPort: 0, TCPPort: -1, Interfaces: []string{"lo"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, offer string) {
		p, err := s.NewPeer("PA_fuzz", nopSignaler{}, nopHandler{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.HandleOffer(offer)
	})
}

type nopSignaler struct{}

func (nopSignaler) SendOffer(string, map[string]string) {}

type nopHandler struct{}

func (nopHandler) TrackPublished(*Peer, *Track)  {}
func (nopHandler) TrackEnded(*Peer, *Track)      {}
func (nopHandler) ConnectionChanged(*Peer, bool) {}
