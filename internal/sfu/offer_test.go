package sfu

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

const chromeLikeOffer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"a=msid-semantic: WMS stream\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
	"a=setup:actpass\r\na=mid:0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=sendonly\r\n" +
	"a=msid:stream track\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:1 cname:x\r\n"

func TestCheckOffer(t *testing.T) {
	if err := checkOffer(chromeLikeOffer, DefaultLimits.MediaSections); err != nil {
		t.Fatalf("valid offer rejected: %v", err)
	}
	if err := checkOffer("garbage", DefaultLimits.MediaSections); !errors.Is(err, ErrBadSDP) {
		t.Errorf("garbage: %v", err)
	}
	pcmu := strings.ReplaceAll(strings.ReplaceAll(chromeLikeOffer, "opus/48000/2", "PCMU/8000"), "111", "0")
	if err := checkOffer(pcmu, DefaultLimits.MediaSections); !errors.Is(err, ErrNoSupportedCodec) {
		t.Errorf("PCMU-only offer: %v", err)
	}
}

// FuzzHandleOffer feeds arbitrary SDP to the publisher side of a real
// peer, the path a client's offer takes. Whatever the input: no panic; an
// error is one of the kinds signalling maps to a code, with no answer;
// otherwise the answer is SDP that parses and answers every m-line of the
// offer, in order, with the same kind and mid, bundled on one transport
// whose host candidate is in the SDP (nothing is trickled).
func FuzzHandleOffer(f *testing.F) {
	f.Add(chromeLikeOffer)
	f.Add("v=0\r\n")
	f.Add(strings.Replace(chromeLikeOffer, "m=audio", "m=video", 1))
	f.Add(strings.Replace(chromeLikeOffer, "BUNDLE 0", "BUNDLE 0 1", 1) +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
		"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
		"a=setup:actpass\r\na=mid:1\r\na=sendonly\r\na=msid:stream video\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\na=ssrc:2 cname:x\r\n")
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
		answer, err := p.HandleOffer(offer)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) && !errors.Is(err, ErrNoSupportedCodec) {
				t.Fatalf("error of no known kind: %v", err)
			}
			if answer != "" {
				t.Fatalf("an answer with the error %v", err)
			}
			return
		}
		checkAnswer(t, offer, answer)
	})
}

// checkAnswer fails t unless answer is a well-formed answer to offer:
// one m-line per offered m-line, in order and of the same kind; each
// either rejected (port 0) or accepted with the offer's mid, a codec we
// forward and a place in the BUNDLE group; when any is accepted, the
// answer carries its ICE credentials and host candidates.
func checkAnswer(t *testing.T, offer, answer string) {
	t.Helper()
	var o, a sdp.SessionDescription
	if err := o.UnmarshalString(offer); err != nil {
		t.Fatalf("offer accepted but does not parse: %v", err)
	}
	if err := a.UnmarshalString(answer); err != nil {
		t.Fatalf("answer does not parse: %v\n%s", err, answer)
	}
	if len(a.MediaDescriptions) != len(o.MediaDescriptions) {
		t.Fatalf("answer has %d m-lines for the offer's %d\n%s", len(a.MediaDescriptions), len(o.MediaDescriptions), answer)
	}
	group, _ := a.Attribute("group")
	bundled := strings.Fields(strings.TrimPrefix(group, "BUNDLE"))
	accepted := 0
	for i, am := range a.MediaDescriptions {
		om := o.MediaDescriptions[i]
		if am.MediaName.Media != om.MediaName.Media {
			t.Fatalf("m-line %d: answer %s for offer %s\n%s", i, am.MediaName.Media, om.MediaName.Media, answer)
		}
		if am.MediaName.Port.Value == 0 {
			continue
		}
		accepted++
		omid, _ := om.Attribute("mid")
		amid, _ := am.Attribute("mid")
		if amid != omid || !slices.Contains(bundled, amid) {
			t.Fatalf("m-line %d: answer mid %q for offer mid %q, bundle %q\n%s", i, amid, omid, group, answer)
		}
		if am.MediaName.Media == "audio" || am.MediaName.Media == "video" {
			codec := false
			for _, at := range am.Attributes {
				_, enc, _ := strings.Cut(at.Value, " ")
				name, _, _ := strings.Cut(strings.ToLower(enc), "/")
				codec = codec || at.Key == "rtpmap" && (name == "opus" || name == "vp8" || name == "h264")
			}
			if !codec {
				t.Fatalf("m-line %d accepted without a codec we forward\n%s", i, answer)
			}
		}
	}
	if accepted > 0 && (!strings.Contains(answer, "a=ice-ufrag:") || !strings.Contains(answer, "typ host") ||
		!strings.Contains(answer, "a=end-of-candidates")) {
		t.Fatalf("answer without its ICE credentials and candidates\n%s", answer)
	}
}

type nopSignaler struct{}

func (nopSignaler) SendOffer(string, map[string]string) {}
func (nopSignaler) SendLayers(string, []string)         {}

type nopHandler struct{}

func (nopHandler) TrackPublished(*Peer, *Track)  {}
func (nopHandler) TrackEnded(*Peer, *Track)      {}
func (nopHandler) ConnectionChanged(*Peer, bool) {}
