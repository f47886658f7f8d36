package sfu

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Target names one of a participant's two peer connections.
type Target string

const (
	// Publisher is the connection the client offers on and sends media over.
	Publisher Target = "publisher"
	// Subscriber is the connection the server offers on and sends media over.
	Subscriber Target = "subscriber"
)

// Signaler carries a peer's signalling to its client. Implementations
// queue and return at once.
type Signaler interface {
	// SendOffer sends a subscriber-side offer; tracks maps the mid of each
	// m-line to the id of the track it carries.
	SendOffer(sdp string, tracks map[string]string)
	// SendLayers tells the publisher of a simulcast track which of its
	// layers (rids) to send; the others are paused (layers.go).
	SendLayers(trackID string, rids []string)
}

// Handler hears what happens to a peer: its published tracks starting and
// ending, its media connection going down or coming back.
type Handler interface {
	TrackPublished(p *Peer, t *Track)
	TrackEnded(p *Peer, t *Track)
	ConnectionChanged(p *Peer, connected bool)
}

// Publication is what a client announces before offering a track: its own
// id for it (the msid track id), what it is, and its simulcast rids from
// low to high.
type Publication struct {
	ClientTrackID string
	Source        string
	Simulcast     []string
	SharedMic     bool
	Speakers      int // people sharing the microphone, 0 = unknown
}

// Peer is one participant's media side: a publisher connection (client
// offers, we receive) and a subscriber connection (we offer, we send).
type Peer struct {
	id   string
	sfu  *SFU
	sig  Signaler
	h    Handler
	log  *slog.Logger
	pub  *webrtc.PeerConnection
	sub  *webrtc.PeerConnection
	bwe  bwe
	pace pacer // the subscriber's video, when its bandwidth is capped
	// relayKeyframe, on a relay peer (relay.go), asks the home node of
	// one of its tracks for a keyframe; nil on a client's peer.
	relayKeyframe func(trackID string, layer int)

	mu          sync.Mutex
	closed      bool
	tracks      map[string]*Track // published, by track id
	byClient    map[string]*Track // published, by the client's track id
	announced   map[string]Publication
	candidates  [2]int                // remote ICE candidates added: publisher, subscriber
	downs       map[string]*DownTrack // subscribed, by track id
	negotiating bool
	again       bool // another offer is needed after the current one
	iceRestart  bool
	offerSentAt time.Time
	offerTimer  *time.Timer // sends an unanswered offer again (negotiate.go)
	pubUp       bool
	subUp       bool

	wg   sync.WaitGroup
	stop chan struct{}
}

// NewPeer creates a participant's two peer connections.
func (s *SFU) NewPeer(id string, sig Signaler, h Handler) (*Peer, error) {
	p := &Peer{id: id, sfu: s, sig: sig, h: h, log: s.log.With("peer", id),
		tracks: map[string]*Track{}, byClient: map[string]*Track{}, announced: map[string]Publication{},
		downs: map[string]*DownTrack{}, stop: make(chan struct{})}
	cfg := webrtc.Configuration{BundlePolicy: webrtc.BundlePolicyMaxBundle, RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire}
	var err error
	if p.pub, err = s.pubAPI.NewPeerConnection(cfg); err != nil {
		return nil, err
	}
	if p.sub, err = s.subAPI.NewPeerConnection(cfg); err != nil {
		p.pub.Close()
		return nil, err
	}
	p.pub.OnConnectionStateChange(func(st webrtc.PeerConnectionState) { p.connectionState(Publisher, st) })
	p.sub.OnConnectionStateChange(func(st webrtc.PeerConnectionState) { p.connectionState(Subscriber, st) })
	p.pub.OnTrack(p.onTrack)
	p.pace.wake, p.pace.stop = make(chan struct{}, 1), p.stop
	p.goroutine(p.allocateLoop)
	p.goroutine(p.repairLoop)
	p.goroutine(func() { p.pace.run(s.metrics) })
	return p, nil
}

// ID returns the participant id the peer was created with.
func (p *Peer) ID() string { return p.id }

func (p *Peer) goroutine(fn func()) {
	p.wg.Add(1)
	p.sfu.goroutine(func() {
		defer p.wg.Done()
		fn()
	})
}

// Announce records what the client is about to publish, so the track
// gets the right source and simulcast order when its media arrives.
//
// A participant has at most Limits.Publications tracks announced (published
// or still to come): an announcement is kept until its track ends, so a
// client announcing without end must not grow the server's memory.
func (p *Peer) Announce(pub Publication) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if max := p.sfu.opts.Limits.Publications; len(p.announced) >= max {
		if _, ok := p.announced[pub.ClientTrackID]; !ok {
			return &LimitError{"tracks", fmt.Sprintf("at most %d tracks announced and not yet sent", max)}
		}
	}
	p.announced[pub.ClientTrackID] = pub
	return nil
}

// Subscribe starts sending a published track to this peer.
func (p *Peer) Subscribe(t *Track) (*DownTrack, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if d, ok := p.downs[t.id]; ok {
		p.mu.Unlock()
		return d, nil
	}
	d := newDownTrack(t, p)
	sender, err := p.sub.AddTrack(d)
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	d.sender = sender
	p.downs[t.id] = d
	p.mu.Unlock()
	t.AddSink(d)
	p.goroutine(d.readRTCP)
	p.negotiate()
	return d, nil
}

// Unsubscribe stops sending a track to this peer.
func (p *Peer) Unsubscribe(trackID string) {
	p.mu.Lock()
	d, ok := p.downs[trackID]
	if !ok || p.closed {
		p.mu.Unlock()
		return
	}
	delete(p.downs, trackID)
	p.mu.Unlock()
	d.track.RemoveSink(d)
	if err := p.sub.RemoveTrack(d.sender); err != nil {
		p.log.Debug("remove track", "track", trackID, "err", err)
	}
	p.negotiate()
}

// DownTrack returns this peer's down-track of a published track.
func (p *Peer) DownTrack(trackID string) (*DownTrack, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.downs[trackID]
	return d, ok
}

// Track returns one of the tracks this peer publishes.
func (p *Peer) Track(trackID string) (*Track, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.tracks[trackID]
	return t, ok
}

// Tracks returns the tracks this peer publishes.
func (p *Peer) Tracks() []*Track {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Track, 0, len(p.tracks))
	for _, t := range p.tracks {
		out = append(out, t)
	}
	return out
}

// Unpublish ends one of this peer's tracks. The client removes it from its
// publisher connection with a new offer.
func (p *Peer) Unpublish(trackID string) error {
	t, ok := p.Track(trackID)
	if !ok {
		return ErrUnknownTrack
	}
	p.trackEnded(t)
	return nil
}

func (p *Peer) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	if strings.EqualFold(remote.Codec().MimeType, webrtc.MimeTypeRTX) {
		p.onRepairAsMedia(remote)
		return
	}
	key := remote.ID()
	if key == "" {
		key = remote.StreamID() + "/" + remote.Kind().String()
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	t := p.byClient[key]
	created := false
	if t == nil {
		pub := p.announced[key]
		src := pub.Source
		if src == "" {
			src = map[webrtc.RTPCodecType]string{webrtc.RTPCodecTypeAudio: "microphone", webrtc.RTPCodecTypeVideo: "camera"}[remote.Kind()]
		}
		codec, redPT := trackCodec(remote, recv)
		t = &Track{sfu: p.sfu, owner: p, id: "TR_" + randomID(10), clientID: key, kind: remote.Kind(),
			source: src, codec: codec, codecKind: kindOf(codec.MimeType), redPT: redPT, rids: pub.Simulcast, done: make(chan struct{})}
		t.SetSharedMic(pub.SharedMic, pub.Speakers)
		p.tracks[t.id] = t
		p.byClient[key] = t
		created = true
	}
	p.mu.Unlock()
	t.addLayer(remote, recv)
	if created {
		p.sfu.metrics.tracks.Add(1)
		p.log.Debug("track published", "track", t.id, "kind", t.Kind(), "codec", t.codec.MimeType, "rid", remote.RID())
		p.h.TrackPublished(p, t)
	}
}

// onRepairAsMedia: pion has taken a publisher's retransmission stream
// (RTX) for a simulcast layer's media. A repair stream must name its
// layer in the repaired-rtp-stream-id extension (RFC 8852), as browsers
// do; one that carries the layer's rtp-stream-id instead (pion's own
// NACK responder copies the original header) is read as a new stream of
// that layer, which pion then reads in place of the layer's media: from
// then on the layer's TrackRemote yields the repairs, and its media goes
// unread. The server cannot undo that; it keeps the repairs from being
// forwarded as media (handle drops the RTX payload types) and says why
// the layer stopped.
func (p *Peer) onRepairAsMedia(remote *webrtc.TrackRemote) {
	p.log.Warn("publisher's retransmissions do not name their simulcast layer (repaired-rtp-stream-id); the layer's media is lost until it publishes again",
		"rid", remote.RID(), "rtx_ssrc", uint32(remote.SSRC()))
}

// trackCodec returns the codec of a received track and the payload type
// of its redundant-audio wrapper if one was negotiated (0 if not). A
// track sent as RED is Opus to the rest of the server: its frames are
// unwrapped on arrival.
func trackCodec(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) (webrtc.RTPCodecParameters, uint8) {
	codec := remote.Codec()
	if remote.Kind() != webrtc.RTPCodecTypeAudio {
		return codec, 0
	}
	var red uint8
	for _, c := range recv.GetParameters().Codecs {
		switch {
		case strings.EqualFold(c.MimeType, mimeRED):
			red = uint8(c.PayloadType)
		case strings.EqualFold(c.MimeType, webrtc.MimeTypeOpus) && strings.EqualFold(codec.MimeType, mimeRED):
			codec = c
		}
	}
	return codec, red
}

// ClientTrackID returns the publisher's own id for a track.
func (t *Track) ClientTrackID() string { return t.clientID }

func kindOf(mime string) codecKind {
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeOpus):
		return codecOpus
	case strings.ToLower(webrtc.MimeTypeVP8):
		return codecVP8
	case strings.ToLower(webrtc.MimeTypeH264):
		return codecH264
	}
	return codecOther
}

// trackEnded retires a published track once and tells the handler.
func (p *Peer) trackEnded(t *Track) {
	if !t.close() {
		return
	}
	p.mu.Lock()
	delete(p.tracks, t.id)
	if p.byClient[t.clientID] == t {
		delete(p.byClient, t.clientID)
	}
	delete(p.announced, t.clientID)
	p.mu.Unlock()
	p.sfu.metrics.tracks.Add(-1)
	p.h.TrackEnded(p, t)
}

func (p *Peer) connectionState(t Target, st webrtc.PeerConnectionState) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	before := p.pubUp || p.subUp
	up := st == webrtc.PeerConnectionStateConnected
	// Closed here means the client closed its side (a DTLS close_notify):
	// we have not closed the peer (p.closed is false), so it is a loss too.
	down := st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateDisconnected ||
		st == webrtc.PeerConnectionStateClosed
	switch {
	case t == Publisher && up:
		p.pubUp = true
	case t == Publisher && down:
		p.pubUp = false
	case t == Subscriber && up:
		p.subUp = true
	case t == Subscriber && down:
		p.subUp = false
	}
	after := p.pubUp || p.subUp
	p.mu.Unlock()
	p.log.Debug("connection state", "target", t, "state", st)
	if before != after || down {
		p.h.ConnectionChanged(p, after && !down)
	}
}

// allocateLoop re-divides the subscriber's bandwidth among its video
// down-tracks twice a second.
func (p *Peer) allocateLoop() {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var lastBytes, lastBudget uint64
	lastAt := nanotime()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		downs := make([]*DownTrack, 0, len(p.downs))
		for _, d := range p.downs {
			downs = append(downs, d)
		}
		p.mu.Unlock()
		var total uint64
		for _, d := range downs {
			_, b := d.Stats()
			total += b
			d.retarget()
		}
		now := nanotime()
		if dt := now - lastAt; dt > 0 && total >= lastBytes {
			p.bwe.sent.Store((total - lastBytes) * 8 * 1e9 / uint64(dt))
		}
		lastBytes, lastAt = total, now
		budget := p.bwe.budget(now)
		if (budget == 0) != (lastBudget == 0) {
			est, _ := p.bwe.estimate()
			p.log.Debug("bandwidth cap", "cap_bps", budget, "estimate_bps", est, "sent_bps", p.bwe.sent.Load(),
				"loss_confirms", now-p.bwe.highLossAt.Load() < int64(lossRecent), "queue_confirms", now-p.bwe.queuedAt.Load() < int64(lossRecent))
		}
		lastBudget = budget
		p.bwe.noRoom.Store(!allocate(downs, budget))
		p.pace.setRate(budget)
		p.sendReports(downs)
		for _, t := range p.Tracks() {
			t.updateLayers(now)
		}
	}
}

// sendReports sends one compound RTCP packet with a sender report per
// down-track, once per allocation tick (500 ms; RFC 3550 §6.2 suggests 5 s
// for large sessions, but browsers resync audio and video faster with
// more frequent reports and the cost is one packet per subscriber).
func (p *Peer) sendReports(downs []*DownTrack) {
	now := time.Now()
	nowNano := nanotime()
	var pkts []rtcp.Packet
	for _, d := range downs {
		if sr := d.senderReport(now, nowNano); sr != nil {
			pkts = append(pkts, sr)
		}
	}
	if len(pkts) > 0 {
		_ = p.sub.WriteRTCP(pkts)
	}
}

func (p *Peer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Close tears down both connections, ends the peer's published tracks
// (telling the handler) and waits for the peer's goroutines.
func (p *Peer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.stop)
	if p.offerTimer != nil {
		p.offerTimer.Stop()
		p.offerTimer = nil
	}
	downs := make([]*DownTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	tracks := make([]*Track, 0, len(p.tracks))
	for _, t := range p.tracks {
		tracks = append(tracks, t)
	}
	p.mu.Unlock()
	for _, d := range downs {
		d.track.RemoveSink(d)
	}
	var err error
	if !p.Relayed() {
		err = errors.Join(p.pub.Close(), p.sub.Close())
	}
	for _, t := range tracks {
		p.trackEnded(t)
	}
	p.wg.Wait()
	return err
}

// randomID returns n characters of lower-case base32 from crypto/rand.
func randomID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return string(b)
}
