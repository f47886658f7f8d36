package sfu

import (
	"fmt"

	"github.com/pion/webrtc/v4"
)

// Cascading: a room too large for one node has its tracks relayed from
// the node where they are published (its home) to edge nodes, which
// forward them to their own subscribers with the same code as any track.
// On an edge a remote publisher is a relay peer: it has no connection;
// its tracks are fed the packets the home node relays (Feed) and their
// keyframe requests go back to the home node (the peer's keyframe
// function). Every layer is relayed; each edge chooses layers for its
// own subscribers.

// RelayedTrack describes a track published on another node.
type RelayedTrack struct {
	ID        string // the track's id on its home node, kept here
	Kind      string // audio | video
	Source    string
	Codec     webrtc.RTPCodecParameters
	Simulcast []string
	SharedMic bool
	Speakers  int
	// LevelExt is the id of the audio level header extension in the
	// relayed packets (0: none).
	LevelExt uint8
}

// Relay describes the track for an edge node (PublishRelayed there).
func (t *Track) Relay() RelayedTrack {
	t.mu.Lock()
	defer t.mu.Unlock()
	return RelayedTrack{ID: t.id, Kind: t.kind.String(), Source: t.source, Codec: t.codec, Simulcast: append([]string(nil), t.rids...),
		SharedMic: t.sharedMic.Load(), Speakers: int(t.speakers.Load()), LevelExt: t.levelExt}
}

// NewRelayPeer creates the media side of a participant whose tracks are
// published on another node; keyframe asks that node for a keyframe of
// one layer of one of them.
func (s *SFU) NewRelayPeer(id string, h Handler, keyframe func(trackID string, layer int)) *Peer {
	return &Peer{id: id, sfu: s, h: h, log: s.log.With("peer", id, "relayed", true), relayKeyframe: keyframe,
		tracks: map[string]*Track{}, byClient: map[string]*Track{}, announced: map[string]Publication{},
		downs: map[string]*DownTrack{}, stop: make(chan struct{})}
}

// Relayed reports whether the peer is a relay peer (NewRelayPeer).
func (p *Peer) Relayed() bool { return p.relayKeyframe != nil }

// PublishRelayed adds a track of a relay peer; its packets come through
// Feed. The peer's handler hears of it as of any published track.
func (p *Peer) PublishRelayed(o RelayedTrack) (*Track, error) {
	if !p.Relayed() {
		return nil, fmt.Errorf("sfu: %s is not a relay peer", p.id)
	}
	kind := webrtc.NewRTPCodecType(o.Kind)
	if kind == 0 || o.ID == "" || o.Codec.MimeType == "" {
		return nil, fmt.Errorf("sfu: relayed track %q: kind %q, codec %q", o.ID, o.Kind, o.Codec.MimeType)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if t, ok := p.tracks[o.ID]; ok {
		p.mu.Unlock()
		return t, nil
	}
	t := &Track{sfu: p.sfu, owner: p, id: o.ID, clientID: o.ID, kind: kind, source: o.Source, codec: o.Codec,
		codecKind: kindOf(o.Codec.MimeType), rids: o.Simulcast, levelExt: o.LevelExt, done: make(chan struct{})}
	t.SetSharedMic(o.SharedMic, o.Speakers)
	p.tracks[t.id] = t
	p.byClient[t.id] = t
	p.mu.Unlock()
	p.sfu.metrics.tracks.Add(1)
	p.h.TrackPublished(p, t)
	return t, nil
}

// Feed hands the track one relayed RTP packet of a layer (a relay
// peer's track; calls for one layer must not overlap). raw is not kept.
func (t *Track) Feed(layer int, raw []byte) {
	if layer < 0 || layer >= maxLayers || len(raw) < 12 {
		t.sfu.metrics.drop(DropMalformed, 1)
		return
	}
	t.mu.Lock()
	l := t.layers[layer]
	if l == nil && !t.closed {
		ssrc := uint32(raw[8])<<24 | uint32(raw[9])<<16 | uint32(raw[10])<<8 | uint32(raw[11])
		l = newLayer(t.kind, layer, ssrc)
		l.rep = nil // the home node repairs what its publisher lost
		t.layers[layer] = l
	}
	t.mu.Unlock()
	if l == nil {
		return
	}
	t.sfu.batch.begin()
	t.handle(l, &l.fed, raw)
	t.sfu.batch.end()
}

// EndRelayed ends a relay peer's track (it ended on its home node).
func (p *Peer) EndRelayed(trackID string) {
	if t, ok := p.Track(trackID); ok && p.Relayed() {
		p.trackEnded(t)
	}
}
