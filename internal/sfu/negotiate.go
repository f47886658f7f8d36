package sfu

// Offer/answer and ICE on a participant's two connections: the client
// offers on its publisher connection; the server offers on the
// subscriber connection and is the only one who does, so offers never
// cross.

import (
	"fmt"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// HandleOffer applies the client's offer on the publisher connection and
// returns the answer.
func (p *Peer) HandleOffer(offer string) (string, error) {
	if err := checkOffer(offer, p.sfu.opts.Limits.MediaSections); err != nil {
		return "", err
	}
	if p.isClosed() {
		return "", ErrClosed
	}
	if err := p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	answer, err := p.pub.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pub)
	if err := p.pub.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	waitGathering(gathered)
	return p.pub.LocalDescription().SDP, nil
}

// checkOffer parses an offer and rejects one whose audio and video
// sections offer no codec we forward (Opus, VP8, H.264).
func checkOffer(offer string, maxSections int) error {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if n := len(sd.MediaDescriptions); n > maxSections {
		return &LimitError{"media_sections", fmt.Sprintf("%d media sections in one offer, at most %d", n, maxSections)}
	}
	media := 0
	for _, m := range sd.MediaDescriptions {
		kind := m.MediaName.Media
		if kind != "audio" && kind != "video" {
			continue
		}
		media++
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			_, enc, _ := strings.Cut(a.Value, " ")
			name, _, _ := strings.Cut(strings.ToLower(enc), "/")
			if name == "opus" || name == "vp8" || name == "h264" {
				return nil
			}
		}
	}
	if media == 0 {
		return fmt.Errorf("%w: no audio or video section", ErrNoSupportedCodec)
	}
	return ErrNoSupportedCodec
}

// HandleAnswer applies the client's answer to our subscriber offer and
// sends the next offer if tracks changed meanwhile.
func (p *Peer) HandleAnswer(answer string) error {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(answer); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	p.mu.Lock()
	waiting := p.negotiating
	p.mu.Unlock()
	if !waiting && p.sub.SignalingState() == webrtc.SignalingStateStable {
		// A second answer to an offer sent again (armOfferRetry) that
		// crossed the first answer: already applied.
		p.log.Debug("subscriber answer with no offer in flight: ignored")
		return nil
	}
	if err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	p.mu.Lock()
	p.negotiating = false
	again := p.again
	p.again = false
	p.mu.Unlock()
	if again {
		p.negotiate()
	}
	return nil
}

// AddCandidate adds one of the client's trickled ICE candidates.
func (p *Peer) AddCandidate(t Target, c webrtc.ICECandidateInit) error {
	pc := p.pc(t)
	if pc == nil {
		return fmt.Errorf("%w: unknown target %q", ErrBadCandidate, t)
	}
	if pc.RemoteDescription() == nil {
		return ErrNoRemoteDesc
	}
	p.mu.Lock()
	n := &p.candidates[0]
	if t == Subscriber {
		n = &p.candidates[1]
	}
	if max := p.sfu.opts.Limits.Candidates; *n >= max {
		p.mu.Unlock()
		return &LimitError{"candidates", fmt.Sprintf("at most %d remote ICE candidates per connection", max)}
	}
	*n++
	p.mu.Unlock()
	if err := pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCandidate, err)
	}
	return nil
}

func (p *Peer) pc(t Target) *webrtc.PeerConnection {
	switch t {
	case Publisher:
		return p.pub
	case Subscriber:
		return p.sub
	}
	return nil
}

// RestartICE renegotiates the subscriber connection with new ICE
// credentials, after the client's network changed.
func (p *Peer) RestartICE() {
	p.mu.Lock()
	p.iceRestart = true
	p.mu.Unlock()
	p.negotiate()
}

// Renegotiate sends a fresh subscriber offer, replacing one in flight:
// after the signalling socket was replaced, the client never saw it.
func (p *Peer) Renegotiate() {
	p.mu.Lock()
	if p.negotiating {
		p.offerSentAt = time.Time{}
	}
	hasTracks := len(p.downs) > 0 || p.sub.LocalDescription() != nil
	p.mu.Unlock()
	if hasTracks {
		p.negotiate()
	}
}

// negotiate sends a subscriber offer, or remembers to send one when the
// current offer is answered: the server is the only offerer on this
// connection, so offers never cross.
func (p *Peer) negotiate() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if p.negotiating {
		p.again = true
		if time.Since(p.offerSentAt) < 10*time.Second {
			p.mu.Unlock()
			return
		}
		// Unanswered for 10 s, or its socket was replaced: the client
		// lost it (or is gone). pion cannot roll a local offer back
		// (SetLocalDescription(rollback) fails in have-local-offer), so
		// the same offer goes again; what changed since follows in the
		// next offer, once this one is answered (again is set).
		if pending := p.sub.PendingLocalDescription(); pending != nil && p.sub.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
			p.mu.Unlock()
			p.resendOffer()
			return
		}
	}
	p.negotiating = true
	p.offerSentAt = time.Now()
	restart := p.iceRestart
	p.iceRestart = false
	p.mu.Unlock()

	offer, err := p.sub.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	gathered := webrtc.GatheringCompletePromise(p.sub)
	if err == nil {
		err = p.sub.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Warn("subscriber offer failed", "err", err)
		p.mu.Lock()
		p.negotiating = false
		p.mu.Unlock()
		return
	}
	waitGathering(gathered)
	offer = *p.sub.LocalDescription()
	p.sig.SendOffer(offer.SDP, p.mids())
	p.armOfferRetry()
}

// offerRetry is how long a subscriber offer waits for its answer before
// it is sent again.
const offerRetry = 10 * time.Second

// armOfferRetry sends the offer in flight again if it is still
// unanswered after offerRetry, and again each offerRetry after that: a
// client that lost it (a socket replaced as it was sent, a page that
// was between two connections) would otherwise wait for media until
// some other change made a new offer. The client answers the same
// offer twice at worst; HandleAnswer ignores the second answer.
func (p *Peer) armOfferRetry() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.offerTimer != nil {
		p.offerTimer.Reset(offerRetry)
		return
	}
	p.offerTimer = time.AfterFunc(offerRetry, p.resendOffer)
}

// resendOffer sends the offer in flight again (pion cannot roll a local
// offer back), if it has waited offerRetry for its answer.
func (p *Peer) resendOffer() {
	p.mu.Lock()
	pending := p.sub.PendingLocalDescription()
	if p.closed || !p.negotiating || time.Since(p.offerSentAt) < offerRetry ||
		pending == nil || p.sub.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		p.mu.Unlock()
		return
	}
	p.offerSentAt = time.Now()
	p.mu.Unlock()
	p.log.Debug("subscriber offer unanswered: sent again")
	p.sig.SendOffer(pending.SDP, p.mids())
	p.armOfferRetry()
}

// mids maps the subscriber connection's m-lines to the tracks they carry.
func (p *Peer) mids() map[string]string {
	mids := map[string]string{}
	for _, tr := range p.sub.GetTransceivers() {
		if tr.Sender() == nil || tr.Mid() == "" {
			continue
		}
		if d, ok := tr.Sender().Track().(*DownTrack); ok {
			mids[tr.Mid()] = d.ID()
		}
	}
	return mids
}

// waitGathering waits for ICE gathering so that the server's candidates
// travel inside the SDP: host candidates on the UDP mux are known at once
// (well under a millisecond), and clients then need not handle server
// candidates that race ahead of the description they belong to.
func waitGathering(done <-chan struct{}) {
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}
