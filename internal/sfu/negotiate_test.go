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

// offerRig gives a subscriber peer, with a signaller that keeps its
// offers, subscribed to a camera track (one offer sent), and the setting
// engine its connection uses: no interfaces, so gathering ends at once,
// with no socket.
func offerRig(t *testing.T) (webrtc.SettingEngine, *Peer, *offerLog) {
	r := newRig(t)
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
	return se, sub, ol
}

// TestLostOfferIsSentAgain: a subscriber offer that is never answered
// (the client lost it with its socket) is sent again after 10 s, with or
// without another change, and every 10 s after that; at once when the
// participant resumes on a new socket. pion cannot roll a local offer
// back, so the same offer goes again.
func TestLostOfferIsSentAgain(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		_, sub, ol := offerRig(t)
		if n := len(ol.sent()); n != 1 {
			t.Fatalf("%d offers after subscribing", n)
		}
		time.Sleep(5 * time.Second)
		sub.negotiate() // a change within 10 s waits for the answer
		if n := len(ol.sent()); n != 1 {
			t.Fatalf("%d offers 5 s after the first", n)
		}
		time.Sleep(6 * time.Second)
		got := ol.sent()
		if len(got) != 2 || got[1] != got[0] {
			t.Fatalf("an offer unanswered for 11 s was not sent again (%d offers)", len(got))
		}
		sub.negotiate() // a change 1 s after the repeat waits too
		time.Sleep(10 * time.Second)
		if got := ol.sent(); len(got) != 3 || got[2] != got[0] {
			t.Fatalf("an offer unanswered for 21 s was sent %d times, want 3", len(got))
		}
		time.Sleep(5 * time.Second)
		sub.Renegotiate() // resumed on a new socket: at once
		if got := ol.sent(); len(got) != 4 || got[3] != got[0] {
			t.Fatalf("no offer on resume (%d offers)", len(got))
		}
		time.Sleep(9 * time.Second) // the repeat counts from the resume
		if got := ol.sent(); len(got) != 4 {
			t.Fatalf("%d offers 9 s after the resume, want 4", len(got))
		}
		time.Sleep(2 * time.Second)
		if got := ol.sent(); len(got) != 5 {
			t.Fatalf("%d offers 11 s after the resume, want 5", len(got))
		}
	})
}

// TestRepeatedOfferAnsweredTwice: an offer sent again while its answer
// was on the way gets answered twice; the second answer is taken as
// already applied, not as bad SDP (the client would be sent an error).
func TestRepeatedOfferAnsweredTwice(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		se, sub, ol := offerRig(t)
		cme := &webrtc.MediaEngine{}
		if err := cme.RegisterDefaultCodecs(); err != nil {
			t.Fatal(err)
		}
		client, err := webrtc.NewAPI(webrtc.WithMediaEngine(cme), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		answer := func(offer string) string {
			if err := client.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
				t.Fatal(err)
			}
			a, err := client.CreateAnswer(nil)
			if err == nil {
				err = client.SetLocalDescription(a)
			}
			if err != nil {
				t.Fatal(err)
			}
			return a.SDP
		}
		first := answer(ol.sent()[0])
		time.Sleep(offerRetry + time.Second) // the answer is late: the offer goes again
		if n := len(ol.sent()); n != 2 {
			t.Fatalf("%d offers, want the first sent again", n)
		}
		if err := sub.HandleAnswer(first); err != nil {
			t.Fatalf("first answer: %v", err)
		}
		second := answer(ol.sent()[1])
		if err := sub.HandleAnswer(second); err != nil {
			t.Errorf("second answer to the repeated offer: %v, want it ignored", err)
		}
		time.Sleep(2 * offerRetry)
		if n := len(ol.sent()); n != 2 {
			t.Errorf("%d offers after both answers, want no more", n)
		}
	})
}
