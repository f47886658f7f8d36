package room

import (
	"fmt"

	"github.com/parleyhq/parley/internal/sfu"
)

// Moderator actions, as the protocol names them.
const (
	ActMute           = "mute"        // target's microphone
	ActMuteAll        = "mute_all"    // everyone's microphone but the moderators'
	ActStopCamera     = "stop_camera" // target's camera
	ActStopScreen     = "stop_screen" // target's screen share (and its audio)
	ActAllowSpeak     = "allow_speak" // target may unmute again
	ActRemove         = "remove"      // target leaves and may not rejoin this meeting
	ActAdmit          = "admit"       // target (or everyone: no target) enters from the lobby
	ActDeny           = "deny"        // target (or everyone) is refused
	ActLock           = "lock"        // Value true: everyone but moderators knocks
	ActEnd            = "end"         // the meeting ends for everyone
	ActPromote        = "promote"     // owner only: target becomes a moderator
	ActDemote         = "demote"      // owner only: target becomes a participant
	ActTranscriptBy   = "transcription_by"
	ActSpeakModerated = "speak_moderated"
)

// Action is one moderator request.
type Action struct {
	Kind   string
	Target string // participant id
	Value  bool   // lock, speak_moderated
	Policy string // transcription_by: everyone or moderators
}

// Moderate carries out a moderator's action. The server checks the
// role: a client never decides what it may do.
func (p *Participant) Moderate(a Action) error {
	me := p.Identity()
	if p.Waiting() {
		return ErrNotAdmitted
	}
	if !me.moderates() {
		return ErrNotAllowed
	}
	r := p.room
	target := func() (*Participant, error) {
		r.mu.Lock()
		t := r.participants[a.Target]
		if t == nil {
			t = r.lobby[a.Target]
		}
		r.mu.Unlock()
		if t == nil {
			return nil, ErrNoSuchPerson
		}
		return t, nil
	}
	switch a.Kind {
	case ActMute, ActStopCamera, ActStopScreen, ActAllowSpeak, ActRemove, ActPromote, ActDemote:
		t, err := target()
		if err != nil {
			return err
		}
		if t.Waiting() {
			return ErrNoSuchPerson
		}
		if err := p.act(a.Kind, t); err != nil {
			return err
		}
		r.audit(p, a.Kind, t.name+" ("+t.id+")")
		return nil
	case ActMuteAll:
		for _, t := range r.everyone() {
			if t != p && !t.Identity().moderates() {
				p.act(ActMute, t)
			}
		}
	case ActAdmit, ActDeny:
		var ts []*Participant
		if a.Target == "" {
			r.mu.Lock()
			for _, t := range r.lobby {
				ts = append(ts, t)
			}
			r.mu.Unlock()
		} else {
			t, err := target()
			if err != nil {
				return err
			}
			if !t.Waiting() {
				return ErrNoSuchPerson
			}
			ts = append(ts, t)
		}
		for _, t := range ts {
			if a.Kind == ActAdmit {
				if err := r.admit(t); err != nil {
					continue
				}
			} else {
				if !r.leaveLobby(t) {
					continue
				}
				t.send(Bye{Reason: ReasonDenied})
				t.closeConn(ReasonDenied)
			}
			r.audit(p, a.Kind, t.name+" ("+t.id+")")
		}
		return nil
	case ActLock, ActTranscriptBy, ActSpeakModerated:
		s := r.Settings()
		switch a.Kind {
		case ActLock:
			s.Locked = a.Value
		case ActSpeakModerated:
			s.SpeakModerated = a.Value
		default:
			if a.Policy != ByEveryone && a.Policy != ByModerators {
				return fmt.Errorf("%w: transcription_by must be everyone or moderators", ErrNotAllowed)
			}
			s.TranscriptionBy = a.Policy
		}
		return r.changeSettings(p, s)
	case ActEnd:
		// Recorded first: once everyone is out the meeting is gone.
		r.audit(p, a.Kind, "")
		r.end(p)
		return nil
	default:
		return fmt.Errorf("%w: unknown action %q", ErrNotAllowed, a.Kind)
	}
	r.audit(p, a.Kind, "")
	return nil
}

// act applies one action to one participant in the room.
func (p *Participant) act(kind string, t *Participant) error {
	r := p.room
	switch kind {
	case ActMute:
		t.mu.Lock()
		t.mutedByMod = true
		t.mu.Unlock()
		for _, tr := range t.tracks("microphone") {
			if !tr.Muted() {
				tr.SetMuted(true)
				if rec := r.liveRecording(); rec != nil {
					rec.Muted(tr.ID(), true)
				}
				r.broadcast(TrackUpdated{Track: tr.Info()})
			}
		}
	case ActAllowSpeak:
		t.mu.Lock()
		t.mutedByMod = false
		t.mu.Unlock()
	case ActStopCamera, ActStopScreen:
		sources := []string{"camera"}
		if kind == ActStopScreen {
			sources = []string{"screen", "screen_audio"}
		}
		if peer := t.Peer(); peer != nil {
			for _, tr := range t.tracks(sources...) {
				peer.Unpublish(tr.ID())
			}
		}
	case ActRemove:
		if t.Identity().Role == RoleOwner {
			return fmt.Errorf("%w: the owner cannot be removed", ErrNotAllowed)
		}
		r.mu.Lock()
		r.banned[t.Identity().Subject] = true
		r.mu.Unlock()
		t.send(Moderated{Action: kind, By: p.id, ByName: p.name})
		t.send(Bye{Reason: ReasonRemoved})
		r.remove(t, ReasonRemoved)
		t.closeConn(ReasonRemoved)
		return nil
	case ActPromote, ActDemote:
		if p.Identity().Role != RoleOwner {
			return fmt.Errorf("%w: only the owner promotes and demotes", ErrNotAllowed)
		}
		role := RoleModerator
		if kind == ActDemote {
			role = RoleParticipant
			if t.Identity().Guest {
				role = RoleGuest
			}
		}
		t.mu.Lock()
		if t.who.Role == RoleOwner {
			t.mu.Unlock()
			return fmt.Errorf("%w: the owner's role does not change", ErrNotAllowed)
		}
		t.who.Role = role
		who := t.who
		t.mu.Unlock()
		if k := r.m.opts.Keeper; k != nil && !who.Guest {
			if err := k.SetRole(r.id, who.Subject, role); err != nil {
				r.log.Error("role not stored", "err", err)
			}
		}
		r.broadcast(ParticipantUpdated{Participant: t.Info()})
		if role == RoleModerator {
			r.mu.Lock()
			ev := LobbyChanged{Waiting: r.lobbyLocked()}
			r.mu.Unlock()
			t.send(ev)
		}
	}
	t.send(Moderated{Action: kind, By: p.id, ByName: p.name})
	return nil
}

// tracks returns the participant's published tracks from these sources
// (a track published without a source counts as the microphone or the
// camera, by its kind).
func (p *Participant) tracks(sources ...string) []*sfu.Track {
	var out []*sfu.Track
	for _, t := range p.room.Tracks() {
		if t.Owner().ID() != p.id {
			continue
		}
		info := t.Info()
		src := info.Source
		if src == "" {
			src = map[string]string{"audio": "microphone", "video": "camera"}[info.Kind]
		}
		for _, s := range sources {
			if src == s {
				out = append(out, t)
			}
		}
	}
	return out
}

// changeSettings applies and keeps new settings and tells everyone.
func (r *Room) changeSettings(by *Participant, s Settings) error {
	r.mu.Lock()
	old := r.settings
	r.settings = s
	r.mu.Unlock()
	if old == s {
		return nil
	}
	if k := r.m.opts.Keeper; k != nil {
		if err := k.SaveSettings(r.id, s); err != nil {
			r.log.Error("room settings not stored", "err", err)
		}
	}
	r.audit(by, "settings", fmt.Sprintf("locked=%t transcription_by=%s speak_moderated=%t", s.Locked, s.TranscriptionBy, s.SpeakModerated))
	r.broadcast(SettingsChanged{Settings: s})
	return nil
}

// end closes the meeting for everyone, lobby included.
func (r *Room) end(by *Participant) {
	r.mu.Lock()
	waiting := make([]*Participant, 0, len(r.lobby))
	for _, p := range r.lobby {
		waiting = append(waiting, p)
	}
	r.mu.Unlock()
	for _, p := range waiting {
		r.leaveLobby(p)
		p.send(Bye{Reason: ReasonEnded})
		p.closeConn(ReasonEnded)
	}
	for _, p := range r.everyone() {
		p.send(Bye{Reason: ReasonEnded})
		r.remove(p, ReasonEnded)
		p.closeConn(ReasonEnded)
	}
}
