package sfu

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// offerLog is a Signaler that keeps the subscriber offers sent.
type offerLog struct {
	mu     sync.Mutex
	offers []string
}

func (o *offerLog) SendLayers(string, []string) {}

func (o *offerLog) SendOffer(sdp string, _ map[string]string) {
	o.mu.Lock()
	o.offers = append(o.offers, sdp)
	o.mu.Unlock()
}

func (o *offerLog) sent() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.offers...)
}

// TestLostOfferIsSentAgain: a subscriber offer that is never answered
// (the client lost it with its socket) is sent again after 10 s, and at
// once when the participant resumes on a new socket; offers never stop.
// pion cannot roll a local offer back, so the same offer goes again.
func TestLostOfferIsSentAgain(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		r := newRig(t)
		// No interfaces: gathering ends at once, with no socket.
		se := webrtc.SettingEngine{}
		se.SetInterfaceFilter(func(string) bool { return false })
		se.SetIncludeLoopbackCandidate(false)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		me, err := newMediaEngine(subscriberSide, true)
		if err != nil {
			t.Fatal(err)
		}
		reg := &interceptor.Registry{}
		reg.Add(r.subRTCP)
		r.sfu.subAPI = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(reg))
		tr := r.publish(r.peer(), webrtc.MimeTypeVP8, "camera", 0x1000)
		ol := &offerLog{}
		sub, err := r.sfu.NewPeer("PA_sub", ol, nopHandler{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Close() })
		if _, err := sub.Subscribe(tr); err != nil {
			t.Fatal(err)
		}
		if n := len(ol.sent()); n != 1 {
			t.Fatalf("%d offers after subscribing", n)
		}
		time.Sleep(5 * time.Second)
		sub.negotiate() // a change within 10 s waits for the answer
		if n := len(ol.sent()); n != 1 {
			t.Fatalf("%d offers 5 s after the first", n)
		}
		time.Sleep(6 * time.Second)
		sub.negotiate()
		got := ol.sent()
		if len(got) != 2 || got[1] != got[0] {
			t.Fatalf("an offer unanswered for 11 s was not sent again (%d offers)", len(got))
		}
		sub.Renegotiate() // resumed on a new socket: at once
		if got := ol.sent(); len(got) != 3 || got[2] != got[0] {
			t.Fatalf("no offer on resume (%d offers)", len(got))
		}
	})
}
