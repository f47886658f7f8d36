package room

import (
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/internal/sfu"
)

// Participant is one person (or device) in a room.
type Participant struct {
	id       string
	name     string
	room     *Room
	token    string
	joinedAt time.Time
	sendOnly bool

	chatLimit  *rate.Limiter
	reactLimit *rate.Limiter

	mu         sync.Mutex
	conn       Conn
	peer       *sfu.Peer
	handRaised bool
	gone       bool
	socketLost bool // signalling socket dropped, waiting for a resume
	mediaLost  bool // a peer connection failed, waiting for an ICE restart
	lostTimer  *time.Timer
	optOut     bool // do not transcribe my audio
	noCaptions bool // do not send me captions
	who        Identity
	waiting    bool // in the lobby: no media, no room events
	remote     bool // on another node (remote.go)
	mutedByMod bool // a moderator muted them (see Settings.SpeakModerated)
}

var (
	_ sfu.Signaler = (*Participant)(nil)
	_ sfu.Handler  = (*Participant)(nil)
)

// ID returns the participant id.
func (p *Participant) ID() string { return p.id }

// Name returns the display name.
func (p *Participant) Name() string { return p.name }

// Room returns the participant's room.
func (p *Participant) Room() *Room { return p.room }

// Peer returns the participant's media side.
func (p *Participant) Peer() *sfu.Peer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peer
}

// Info describes the participant.
func (p *Participant) Info() ParticipantInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ParticipantInfo{ID: p.id, Name: p.name, JoinedAt: p.joinedAt, HandRaised: p.handRaised,
		Connected: !p.socketLost && !p.mediaLost, TranscriptionOptOut: p.optOut, Role: p.who.Role, Guest: p.who.Guest}
}

func (p *Participant) send(ev Event) {
	p.mu.Lock()
	c := p.conn
	lost := p.socketLost
	p.mu.Unlock()
	if c != nil && !lost {
		c.Send(ev)
	}
}

func (p *Participant) closeConn(reason string) {
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if c != nil {
		c.Close(reason)
	}
}

// SendOffer implements sfu.Signaler by passing the offer to whichever
// socket the participant has now.
func (p *Participant) SendOffer(sdp string, tracks map[string]string) {
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if c != nil {
		c.SendOffer(sdp, tracks)
	}
}

// SendLayers implements sfu.Signaler: the publisher is told which of a
// track's simulcast layers to send.
func (p *Participant) SendLayers(trackID string, rids []string) {
	p.send(Layers{TrackID: trackID, RIDs: rids})
}

// TrackPublished implements sfu.Handler: every other participant
// subscribes, everyone is told, and the publisher learns the track's id.
func (p *Participant) TrackPublished(_ *sfu.Peer, t *sfu.Track) {
	r := p.room
	r.mu.Lock()
	r.tracks[t.ID()] = t
	others := r.othersLocked(p)
	r.mu.Unlock()
	info := t.Info()
	p.send(Published{ClientTrackID: t.ClientTrackID(), Track: info})
	for _, o := range others {
		o.subscribe(t)
		o.send(TrackPublished{Track: info})
	}
	r.transcribe(t)
	r.record(t)
}

// TrackEnded implements sfu.Handler.
func (p *Participant) TrackEnded(_ *sfu.Peer, t *sfu.Track) {
	r := p.room
	r.mu.Lock()
	delete(r.tracks, t.ID()) // its taps, speech included, closed with it
	everyone := r.othersLocked(nil)
	rec := r.rec
	r.mu.Unlock()
	if rec != nil {
		rec.Detach(t.ID())
	}
	for _, o := range everyone {
		if o != p {
			if peer := o.Peer(); peer != nil {
				peer.Unsubscribe(t.ID())
			}
		}
		o.send(TrackUnpublished{TrackID: t.ID(), ParticipantID: p.id})
	}
}

// ConnectionChanged implements sfu.Handler: a participant whose media
// connection failed is removed after the peer timeout unless it recovers
// (an ICE restart).
func (p *Participant) ConnectionChanged(_ *sfu.Peer, connected bool) {
	p.mu.Lock()
	changed := p.mediaLost == connected
	p.mediaLost = !connected
	p.updateTimerLocked()
	p.mu.Unlock()
	if changed {
		p.room.broadcast(ParticipantUpdated{Participant: p.Info()})
	}
}

// updateTimerLocked starts the removal timer when the socket or the
// media is lost and stops it when both are fine.
func (p *Participant) updateTimerLocked() {
	lost := p.socketLost || p.mediaLost
	switch {
	case lost && p.lostTimer == nil && !p.gone:
		p.lostTimer = time.AfterFunc(p.room.m.opts.PeerTimeout, func() {
			p.room.remove(p, ReasonConnectionLost)
		})
	case !lost && p.lostTimer != nil:
		p.lostTimer.Stop()
		p.lostTimer = nil
	}
}

func (p *Participant) subscribe(t *sfu.Track) {
	peer := p.Peer()
	if peer == nil || t.Owner() == peer || p.sendOnly {
		return
	}
	if _, err := peer.Subscribe(t); err != nil {
		p.room.log.Debug("subscribe failed", "participant", p.id, "track", t.ID(), "err", err)
	}
}

// SocketLost is called when the signalling socket closes without a leave:
// the participant stays for the peer timeout, waiting for a resume.
func (p *Participant) SocketLost(c Conn) {
	p.mu.Lock()
	if p.conn != c || p.gone {
		p.mu.Unlock()
		return
	}
	if p.waiting {
		// A knocker who closed the page is out of the lobby.
		p.mu.Unlock()
		p.room.leaveLobby(p)
		return
	}
	p.socketLost = true
	p.updateTimerLocked()
	p.mu.Unlock()
	p.room.broadcast(ParticipantUpdated{Participant: p.Info()})
}

// Leave removes the participant (or knocker) now.
func (p *Participant) Leave() {
	if p.Waiting() {
		p.room.leaveLobby(p)
		return
	}
	p.room.remove(p, ReasonLeft)
}

// Gone reports whether the participant has left.
func (p *Participant) Gone() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gone
}

// Publish announces a track the client is about to offer.
func (p *Participant) Publish(pub sfu.Publication) error { return p.Peer().Announce(pub) }

// Offer applies a publisher-side offer and returns the answer.
func (p *Participant) Offer(sdp string) (string, error) { return p.Peer().HandleOffer(sdp) }

// Answer applies the answer to a subscriber-side offer.
func (p *Participant) Answer(sdp string) error { return p.Peer().HandleAnswer(sdp) }

// Candidate adds a trickled ICE candidate.
func (p *Participant) Candidate(t sfu.Target, c webrtc.ICECandidateInit) error {
	return p.Peer().AddCandidate(t, c)
}

// RestartICE renegotiates the subscriber connection with new credentials.
func (p *Participant) RestartICE() { p.Peer().RestartICE() }

// Unpublish ends one of the participant's tracks.
func (p *Participant) Unpublish(trackID string) error { return p.Peer().Unpublish(trackID) }

// Mute sets a published track's muted state; muted tracks are not
// forwarded, and everyone is told.
func (p *Participant) Mute(trackID string, muted bool) error {
	t, ok := p.Peer().Track(trackID)
	if !ok {
		return ErrUnknownTrack
	}
	if t.Muted() == muted {
		return nil
	}
	if !muted {
		p.mu.Lock()
		held := p.mutedByMod && !p.who.moderates()
		p.mu.Unlock()
		if held && p.room.Settings().SpeakModerated {
			return fmt.Errorf("%w: a moderator muted you; ask to speak", ErrNotAllowed)
		}
	}
	t.SetMuted(muted)
	if rec := p.room.liveRecording(); rec != nil {
		rec.Muted(t.ID(), muted)
	}
	p.room.broadcast(TrackUpdated{Track: t.Info()})
	return nil
}

// Layers by name, as the protocol spells them.
var layerNames = map[string]int{"low": sfu.LayerLow, "medium": sfu.LayerMedium, "high": sfu.LayerHigh}

// SetSubscription sets the layer the participant wants of another's
// track and whether it is paused (not visible).
func (p *Participant) SetSubscription(trackID, layer string, paused bool) error {
	d, ok := p.Peer().DownTrack(trackID)
	if !ok {
		return ErrUnknownTrack
	}
	l := sfu.LayerHigh
	if layer != "" {
		var ok bool
		if l, ok = layerNames[layer]; !ok {
			return fmt.Errorf("%w: %q (want low, medium or high)", ErrInvalidLayer, layer)
		}
	}
	d.SetPreference(l, paused)
	return nil
}

// RaiseHand sets the participant's raised hand and tells everyone.
func (p *Participant) RaiseHand(raised bool) {
	p.mu.Lock()
	changed := p.handRaised != raised
	p.handRaised = raised
	p.mu.Unlock()
	if changed {
		p.room.broadcast(ParticipantUpdated{Participant: p.Info()})
	}
}

// Reactions participants may send: a short, fixed list keeps them
// legible and stops anyone using reactions as a second chat.
var Reactions = map[string]bool{"👍": true, "👏": true, "😂": true, "❤️": true, "🎉": true, "😮": true, "🙋": true}

// React sends a reaction to everyone.
func (p *Participant) React(emoji string) error {
	if !Reactions[emoji] {
		return ErrInvalidEmoji
	}
	if !p.reactLimit.Allow() {
		return ErrRateLimited
	}
	p.room.broadcast(Reaction{ParticipantID: p.id, Emoji: emoji})
	return nil
}

// Chat sends a text message to everyone in the room (the sender too, so
// every client shows the server's id, time and cleaned text).
func (p *Participant) Chat(text string) error {
	text, err := validChat(text)
	if err != nil {
		return err
	}
	if !p.chatLimit.Allow() {
		return ErrRateLimited
	}
	p.room.broadcast(Chat{ID: newID("CH_"), ParticipantID: p.id, Name: p.name, Text: text, Time: time.Now().UTC()})
	return nil
}

// OptedOut reports whether the participant asked not to be transcribed.
func (p *Participant) OptedOut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.optOut
}

// WantsCaptions reports whether captions are sent to this participant.
func (p *Participant) WantsCaptions() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.noCaptions
}

// SetCaptions turns live captions on or off for this participant only.
func (p *Participant) SetCaptions(on bool) {
	p.mu.Lock()
	p.noCaptions = !on
	p.mu.Unlock()
}

// SetTranscription turns the room's transcription on or off, if the
// room's policy lets this participant do it.
func (p *Participant) SetTranscription(on bool) error { return p.room.SetTranscription(on, p) }

// SetOptOut stops (or resumes) the transcription of this participant's
// audio; everyone is told, and the transcript records it.
func (p *Participant) SetOptOut(out bool) {
	p.mu.Lock()
	changed := p.optOut != out
	p.optOut = out
	p.mu.Unlock()
	if !changed {
		return
	}
	r := p.room
	kind := NoteOptIn
	if out {
		kind = NoteOptOut
		r.untranscribe(p.id)
	} else {
		for _, t := range r.Tracks() {
			if t.Owner().ID() == p.id {
				r.transcribe(t)
			}
		}
	}
	if live := r.liveTranscript(); live != nil {
		if err := live.Note(Note{Kind: kind, At: r.meetingClock(), Speaker: Speaker{ID: p.id, Name: p.name}}); err != nil {
			r.trOp.Lock()
			if r.liveTranscript() == live {
				r.consentLostLocked(err)
			}
			r.trOp.Unlock()
		}
	}
	r.broadcast(ParticipantUpdated{Participant: p.Info()})
}
