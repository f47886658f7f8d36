package room

import (
	"fmt"
	"sort"
	"time"

	"golang.org/x/time/rate"
)

// Cascading: a room too large for one node also lives on edge nodes,
// which serve more subscribers with the tracks relayed from its home node
// (package cascade). On an edge the people who publish at the home node
// are remote participants: listed with the others, their tracks
// subscribed to like anyone's, but they receive nothing here and do not
// keep the room open — it closes when its last participant of its own
// leaves. An edge room neither transcribes nor records: its home does.

// Edge marks the room as an edge of a meeting hosted on another node.
func (r *Room) Edge() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.edge
}

// ErrEdge refuses what only the meeting's home node does.
var ErrEdge = fmt.Errorf("%w: this meeting is hosted on another node, which transcribes and records it", ErrNotAllowed)

// AddRemote adds a participant who is on the home node of an edge room,
// with a relay peer (sfu.NewRelayPeer) whose tracks the caller publishes;
// keyframe asks the home node for a keyframe. A participant already
// there is returned as it is.
func (r *Room) AddRemote(id, name, role string, keyframe func(trackID string, layer int)) (*Participant, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrRoomClosed
	}
	if !r.edge {
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: remote participants join edge rooms only", ErrNotAllowed)
	}
	if p := r.remotes[id]; p != nil {
		r.mu.Unlock()
		return p, nil
	}
	p := &Participant{id: id, name: name, room: r, joinedAt: time.Now().UTC(), sendOnly: true, remote: true,
		who: Identity{Subject: "remote:" + id, Role: role}, chatLimit: rate.NewLimiter(0, 0), reactLimit: rate.NewLimiter(0, 0)}
	p.peer = r.m.sfu.NewRelayPeer(id, p, keyframe)
	r.remotes[id] = p
	others := r.othersLocked(nil)
	r.mu.Unlock()
	info := p.Info()
	for _, o := range others {
		o.send(ParticipantJoined{Participant: info})
	}
	r.log.Info("remote participant", "participant", id)
	return p, nil
}

// RemoveRemote takes a remote participant out (they left the home node).
func (r *Room) RemoveRemote(id string) {
	r.mu.Lock()
	p := r.remotes[id]
	delete(r.remotes, id)
	others := r.othersLocked(nil)
	r.mu.Unlock()
	if p == nil {
		return
	}
	p.Peer().Close() // its tracks end: everyone unsubscribes
	for _, o := range others {
		o.send(ParticipantLeft{ParticipantID: id, Reason: ReasonLeft})
	}
}

// WatchCaptions hands fn (which must not block) every caption of the
// room as well, until the next call (nil: none): the home node relays
// them to its edges.
func (r *Room) WatchCaptions(fn func(Caption)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.captionWatch = fn
}

// MirrorTranscription shows, in an edge room, the transcription state of
// the meeting at its home node (its captions come through Caption).
func (r *Room) MirrorTranscription(st TranscriptionState) {
	r.mu.Lock()
	if !r.edge || r.closed || r.trState == st {
		r.mu.Unlock()
		return
	}
	r.trState = st
	r.mu.Unlock()
	r.broadcast(TranscriptionChanged{st})
}

// Done is closed when the room closes.
func (r *Room) Done() <-chan struct{} { return r.stop }

// Remotes returns the remote participants' ids.
func (r *Room) Remotes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.remotes))
	for id := range r.remotes {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// People describes the room's own participants (not remote ones), in
// the order they joined.
func (r *Room) People() []ParticipantInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ParticipantInfo
	for _, p := range r.sortedLocked() {
		out = append(out, p.Info())
	}
	return out
}

// closeRemotesLocked takes the remote participants out of a room that
// closes; their peers are closed by the caller, outside the lock.
func (r *Room) closeRemotesLocked() []*Participant {
	out := make([]*Participant, 0, len(r.remotes))
	for _, p := range r.remotes {
		out = append(out, p)
	}
	r.remotes = map[string]*Participant{}
	return out
}
