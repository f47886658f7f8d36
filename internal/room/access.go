package room

import (
	"errors"
	"sort"
)

// Roles, from most to least trusted.
const (
	RoleOwner       = "owner"
	RoleModerator   = "moderator"
	RoleParticipant = "participant"
	RoleGuest       = "guest"
)

func validRole(r string) bool {
	switch r {
	case RoleOwner, RoleModerator, RoleParticipant, RoleGuest:
		return true
	}
	return false
}

// Errors of the access model.
var (
	ErrNotAllowed   = errors.New("not allowed for your role")
	ErrRemoved      = errors.New("you were removed from this meeting")
	ErrNotAdmitted  = errors.New("waiting in the lobby: not admitted yet")
	ErrNoSuchPerson = errors.New("no such participant")
	ErrConsent      = errors.New("the consent record could not be stored: transcription is off")
)

// Identity is who a participant is, as their join token says.
type Identity struct {
	Subject string // "oidc:…" for a signed-in user, "guest:…" otherwise
	Role    string
	Guest   bool   // not signed in
	Addr    string // the address they joined from (audit)
}

func (i Identity) moderates() bool { return i.Role == RoleOwner || i.Role == RoleModerator }

// Settings are a room's rules; they outlive its meetings (the Keeper
// stores them).
type Settings struct {
	// Access: public (anyone with the link enters), trusted (signed-in
	// users enter, guests knock), restricted (listed members enter,
	// everyone else knocks). Applied when join tokens are issued.
	Access string
	// Locked: everyone but moderators knocks.
	Locked bool
	// TranscriptionBy: who may turn transcription on or off, "everyone"
	// or "moderators".
	TranscriptionBy string
	// SpeakModerated: a participant a moderator muted may not unmute
	// themselves until a moderator allows it.
	SpeakModerated bool
}

// Access levels and transcription policies.
const (
	AccessPublic     = "public"
	AccessTrusted    = "trusted"
	AccessRestricted = "restricted"
	ByEveryone       = "everyone"
	ByModerators     = "moderators"
)

// DefaultSettings are a room's settings when nobody chose any.
func DefaultSettings() Settings {
	return Settings{Access: AccessPublic, TranscriptionBy: ByEveryone}
}

// Valid reports whether every field has a known value.
func (s Settings) Valid() bool {
	return (s.Access == AccessPublic || s.Access == AccessTrusted || s.Access == AccessRestricted) &&
		(s.TranscriptionBy == ByEveryone || s.TranscriptionBy == ByModerators)
}

// Keeper is what the room asks of the store. Its methods do I/O and are
// never called under a room lock.
type Keeper interface {
	// RoomSettings returns a room's settings when it becomes live.
	RoomSettings(roomID string) Settings
	// SaveSettings keeps settings a moderator changed in the meeting.
	SaveSettings(roomID string, s Settings) error
	// SetRole keeps a role the owner gave a signed-in user.
	SetRole(roomID, subject, role string) error
	// Admitted records that someone entered a meeting and returns the
	// meeting key their browser keeps to read the meeting afterwards.
	Admitted(roomID, meetingID string, who Identity, name string) (key string, err error)
	// Audit records an action in the room's audit log.
	Audit(roomID string, who Identity, name, action, detail string)
}

// LobbyEntry is someone waiting to be let in.
type LobbyEntry struct {
	ID    string
	Name  string
	Guest bool
}

// Lobby tells a knocker they wait to be admitted.
type Lobby struct{}

// LobbyChanged gives moderators the lobby's waiting list.
type LobbyChanged struct {
	Waiting []LobbyEntry
}

// Moderated tells a participant what a moderator did to them.
type Moderated struct {
	Action string
	By     string // moderator's participant id
	ByName string
}

// SettingsChanged tells everyone the room's settings changed.
type SettingsChanged struct {
	Settings Settings
}

func (Lobby) event()           {}
func (LobbyChanged) event()    {}
func (Moderated) event()       {}
func (SettingsChanged) event() {}

// Reasons of a Bye specific to the access model.
const (
	ReasonDenied  = "denied"  // a moderator refused to admit you
	ReasonRemoved = "removed" // a moderator removed you
	ReasonEnded   = "ended"   // a moderator ended the meeting for everyone
)

// Role returns the participant's role.
func (p *Participant) Role() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.who.Role
}

// Waiting reports whether the participant is still in the lobby.
func (p *Participant) Waiting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting
}

// Identity returns who the participant is.
func (p *Participant) Identity() Identity {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.who
}

// Settings returns the room's settings now.
func (r *Room) Settings() Settings {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settings
}

func (r *Room) lobbyLocked() []LobbyEntry {
	out := make([]LobbyEntry, 0, len(r.lobby))
	for _, p := range r.lobby {
		out = append(out, LobbyEntry{ID: p.id, Name: p.name, Guest: p.who.Guest})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

func (r *Room) moderators() []*Participant {
	var out []*Participant
	for _, p := range r.everyone() {
		if p.Identity().moderates() {
			out = append(out, p)
		}
	}
	return out
}

// lobbyChanged sends the waiting list to every moderator.
func (r *Room) lobbyChanged() {
	r.mu.Lock()
	ev := LobbyChanged{Waiting: r.lobbyLocked()}
	r.mu.Unlock()
	for _, m := range r.moderators() {
		m.send(ev)
	}
}

// knocked tells a new knocker to wait and the moderators that they do.
func (r *Room) knocked(p *Participant) {
	p.send(Lobby{})
	r.lobbyChanged()
	r.audit(p, "knocked", "")
	r.log.Info("participant knocked", "participant", p.id)
}

// leaveLobby takes a knocker out of the lobby (they left, were denied or
// the room ended); the room closes when nobody is left in it.
func (r *Room) leaveLobby(p *Participant) bool {
	m := r.m
	m.mu.Lock()
	r.mu.Lock()
	_, ok := r.lobby[p.id]
	delete(r.lobby, p.id)
	endLive, endRec := r.closeIfEmptyLocked()
	r.mu.Unlock()
	m.mu.Unlock()
	if endLive != nil {
		endLive.End()
	}
	if endRec != nil {
		endRec.End(Speaker{})
	}
	if ok {
		p.mu.Lock()
		p.gone = true
		p.mu.Unlock()
		r.lobbyChanged()
	}
	return ok
}

// closeIfEmptyLocked closes a room with nobody in it nor in its lobby.
// Manager.mu and r.mu are held. It reports the live transcript and the
// recording to end.
func (r *Room) closeIfEmptyLocked() (LiveTranscript, LiveRecording) {
	if len(r.participants) > 0 || len(r.lobby) > 0 || r.closed {
		return nil, nil
	}
	r.closed = true
	close(r.stop)
	if r.m.rooms[r.id] == r {
		delete(r.m.rooms, r.id)
	}
	if f := r.m.opts.Closed; f != nil {
		go f(r.id)
	}
	live, rec := r.live, r.rec
	r.live, r.transcribing, r.rec = nil, false, nil
	if remotes := r.closeRemotesLocked(); len(remotes) > 0 {
		go func() {
			for _, p := range remotes {
				p.Peer().Close()
			}
		}()
	}
	return live, rec
}

// admit lets a knocker in.
func (r *Room) admit(p *Participant) error {
	m := r.m
	m.mu.Lock()
	r.mu.Lock()
	if _, ok := r.lobby[p.id]; !ok || r.closed {
		r.mu.Unlock()
		m.mu.Unlock()
		return ErrNoSuchPerson
	}
	delete(r.lobby, p.id)
	p.mu.Lock()
	p.waiting = false
	p.token = newID("") + newID("")
	p.mu.Unlock()
	r.participants[p.id] = p
	m.byToken[p.token] = p
	m.participants++
	r.mu.Unlock()
	m.mu.Unlock()
	r.lobbyChanged()
	return r.enter(p)
}

// admitted records a newcomer's right to the meeting and returns their
// meeting key ("" without a keeper or when the store failed).
func (r *Room) admitted(p *Participant) string {
	k := r.m.opts.Keeper
	if k == nil {
		return ""
	}
	who := p.Identity()
	key, err := k.Admitted(r.id, r.meetingID, who, p.name)
	if err != nil {
		r.log.Error("meeting grant not stored: this participant cannot read the meeting afterwards", "participant", p.id, "err", err)
		return ""
	}
	k.Audit(r.id, who, p.name, "entered", p.id)
	return key
}

func (r *Room) audit(p *Participant, action, detail string) {
	if k := r.m.opts.Keeper; k != nil {
		var who Identity
		name := ""
		if p != nil {
			who, name = p.Identity(), p.name
		}
		k.Audit(r.id, who, name, action, detail)
	}
}

// Removed reports whether a moderator removed this subject from the
// meeting in progress.
func (r *Room) Removed(subject string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.banned[subject]
}

// BySubject returns the admitted participant with this identity, or nil.
func (r *Room) BySubject(subject string) *Participant {
	if subject == "" {
		return nil
	}
	for _, p := range r.everyone() {
		if p.Identity().Subject == subject {
			return p
		}
	}
	return nil
}

// SetSettings applies settings the owner changed outside the meeting
// (the caller stored them) and tells everyone.
func (r *Room) SetSettings(s Settings) {
	r.mu.Lock()
	old := r.settings
	r.settings = s
	r.mu.Unlock()
	if old != s {
		r.broadcast(SettingsChanged{Settings: s})
	}
}
