// Package room holds rooms and their participants: who is in which room,
// who receives whose tracks, chat, hands, reactions, active speaker, and
// the transcription's consent state (on or off, who opted out). It never
// touches RTP and never decodes audio: media goes through the sfu
// package, and live transcription through the small Speech interface.
//
// Lock order: Room.trOp (serialises transcription changes; may be held
// across I/O) before Manager.mu before Room.mu before Participant.mu.
// No room lock but trOp is held while calling into the sfu (which may
// call back) or the speech pipeline, or doing any I/O.
package room

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/internal/sfu"
)

// Errors of room operations; the signalling layer maps them to codes.
var (
	ErrShuttingDown    = errors.New("server is shutting down")
	ErrRoomFull        = errors.New("room is full")
	ErrResumeFailed    = errors.New("unknown or expired resume token")
	ErrInvalidChat     = errors.New("invalid chat message")
	ErrRateLimited     = errors.New("too many messages")
	ErrInvalidEmoji    = errors.New("invalid reaction")
	ErrNotPublisher    = errors.New("track belongs to another participant")
	ErrUnknownTrack    = sfu.ErrUnknownTrack
	ErrInvalidLayer    = errors.New("invalid layer")
	ErrParticipantGone = errors.New("participant has left")
)

// Limits on what participants may send.
const (
	MaxChatLen      = 2000 // characters per chat message
	MaxParticipants = 500  // per room
)

// Conn is a participant's signalling connection, as the room sees it.
// Send queues and returns at once.
type Conn interface {
	// SendOffer sends a subscriber-side offer (sfu.Signaler's).
	SendOffer(sdp string, tracks map[string]string)
	Send(ev Event)
	// Close ends the connection after the queued messages are written.
	Close(reason string)
}

// Options configures the manager.
type Options struct {
	SFU *sfu.SFU
	// PeerTimeout is how long a participant whose signalling socket or
	// media connection is lost stays before it is removed.
	PeerTimeout time.Duration
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	// SpeakerInterval is how often the active speaker is computed.
	SpeakerInterval time.Duration
	// Speech enables live captions and transcripts (nil: off).
	Speech Speech
	// Recorder enables per-track recording (nil: off).
	Recorder Recorder
	// Keeper keeps rooms' settings, meeting grants and the audit log
	// (nil: default settings, nothing kept).
	Keeper Keeper
	// MaxRooms and MaxParticipantsTotal cap the whole server (0: the
	// defaults in caps.go).
	MaxRooms, MaxParticipantsTotal int
	// Closed is told (in a goroutine of its own) of each room that
	// closes, its last participant gone (optional).
	Closed func(roomID string)
	// Continued, when set, names the meeting a room continues as it
	// becomes live here: one that went on at another node until that node
	// died (ok false: a new meeting). It does I/O: never called under a
	// lock.
	Continued func(roomID string) (m LiveMeeting, ok bool)
	// Opened, when set, is told (in a goroutine of its own) of each
	// meeting a room starts or continues here; Transcribed of each time
	// its transcription starts or stops (called in order, not under a
	// room lock; it should be quick).
	Opened      func(roomID string, m MeetingInfo)
	Transcribed func(roomID string, on bool)
}

// LiveMeeting is what a node taking a room over needs to continue its
// meeting: which meeting, since when, and whether it was transcribed.
type LiveMeeting struct {
	MeetingInfo
	Transcribing bool
	// Edge: the meeting is hosted on another node; the room here is one
	// of its edges (remote.go).
	Edge bool
}

// Manager holds the live rooms.
type Manager struct {
	opts Options
	sfu  *sfu.SFU
	log  *slog.Logger

	mu           sync.Mutex
	rooms        map[string]*Room
	byToken      map[string]*Participant
	closing      bool
	participants int
	wg           sync.WaitGroup
	refused      *prometheus.CounterVec // joins refused by a cap
}

// NewManager creates an empty manager.
func NewManager(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PeerTimeout == 0 {
		opts.PeerTimeout = 20 * time.Second
	}
	if opts.SpeakerInterval == 0 {
		opts.SpeakerInterval = 300 * time.Millisecond
	}
	opts.capDefaults()
	m := &Manager{opts: opts, sfu: opts.SFU, log: opts.Logger, rooms: map[string]*Room{}, byToken: map[string]*Participant{},
		refused: newJoinsRefused()}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_rooms", Help: "Rooms with at least one participant."},
				func() float64 { m.mu.Lock(); defer m.mu.Unlock(); return float64(len(m.rooms)) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_participants", Help: "Participants in all rooms."},
				func() float64 { m.mu.Lock(); defer m.mu.Unlock(); return float64(m.participants) }),
			m.refused,
		)
	}
	return m
}

// Stats returns the number of rooms and participants.
func (m *Manager) Stats() (rooms, participants int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rooms), m.participants
}

// Draining reports whether the manager stopped accepting joins.
func (m *Manager) Draining() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closing
}

// Room is one meeting in progress.
type Room struct {
	id  string
	m   *Manager
	log *slog.Logger

	mu           sync.Mutex
	participants map[string]*Participant
	remotes      map[string]*Participant // on the home node of an edge room (remote.go)
	edge         bool
	captionWatch func(Caption) // WatchCaptions
	tracks       map[string]*sfu.Track
	speaker      string
	speaking     []string
	closed       bool
	stop         chan struct{}
	createdAt    time.Time
	meetingID    string

	settings Settings
	banned   map[string]bool         // subjects removed from this meeting
	lobby    map[string]*Participant // knocking, by participant id

	trOp         sync.Mutex // serialises SetTranscription
	transcribing bool
	live         LiveTranscript // nil unless transcribing
	trState      TranscriptionState

	recOp    sync.Mutex    // serialises SetRecording
	rec      LiveRecording // nil unless recorded
	recState RecordingState
}

// ID returns the room id.
func (r *Room) ID() string { return r.id }

// JoinOptions are a participant's choices at join time and what the
// server verified about them (from their join token).
type JoinOptions struct {
	// SendOnly participants receive no media: a broadcaster, a room
	// system that only captures, a load generator's publishers.
	SendOnly bool
	// Who they are and may do. A zero Identity joins as a participant
	// with a fresh guest subject (in-process callers and tests).
	Identity Identity
	// Lobby: they must wait until a moderator admits them.
	Lobby bool
}

// Join admits a participant into a room, creating the room if needed, or
// puts them in the room's lobby when they must knock.
func (m *Manager) Join(roomID, name string, conn Conn, opts JoinOptions) (*Participant, error) {
	if !ValidRoomID(roomID) {
		return nil, ErrInvalidRoomID
	}
	name, err := CleanName(name)
	if err != nil {
		return nil, err
	}
	who := opts.Identity
	if who.Role == "" {
		who.Role = RoleParticipant
	}
	if who.Subject == "" {
		who.Subject = "guest:" + newID("")
	}
	if !validRole(who.Role) {
		return nil, fmt.Errorf("%w: role %q", ErrNotAllowed, who.Role)
	}
	// A room that becomes live takes its settings from the keeper (store
	// I/O: before any lock).
	settings := DefaultSettings()
	var cont LiveMeeting
	continued, resume, edge := false, false, false
	if _, live := m.Room(roomID); !live {
		if m.opts.Keeper != nil {
			settings = m.opts.Keeper.RoomSettings(roomID)
		}
		if m.opts.Continued != nil {
			cont, continued = m.opts.Continued(roomID)
			edge = continued && cont.Edge
			continued = continued && ValidMeetingID(cont.ID) && !cont.Started.IsZero()
		}
	}
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		return nil, ErrShuttingDown
	}
	if err := m.checkCapsLocked(roomID); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	r := m.rooms[roomID]
	if r == nil {
		mid, created := NewMeetingID(), time.Now()
		if continued {
			// Its meeting clock goes on from where the other node's was,
			// and its captions too.
			mid, created, resume = cont.ID, cont.Started, cont.Transcribing && !cont.Edge
		}
		r = &Room{id: roomID, m: m, log: m.log.With("room", roomID), participants: map[string]*Participant{}, remotes: map[string]*Participant{},
			edge:   edge,
			tracks: map[string]*sfu.Track{}, stop: make(chan struct{}), createdAt: created, meetingID: mid,
			trState: TranscriptionState{MeetingID: mid}, settings: settings, banned: map[string]bool{}, lobby: map[string]*Participant{}}
		m.rooms[roomID] = r
		if m.opts.Opened != nil {
			go m.opts.Opened(roomID, MeetingInfo{ID: mid, Title: roomID, Started: created.UTC()})
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			r.speakerLoop()
		}()
	}
	r.mu.Lock()
	if r.banned[who.Subject] {
		r.mu.Unlock()
		m.mu.Unlock()
		return nil, ErrRemoved
	}
	if len(r.participants)+len(r.lobby) >= MaxParticipants {
		r.mu.Unlock()
		m.mu.Unlock()
		return nil, ErrRoomFull
	}
	knock := opts.Lobby || (r.settings.Locked && !who.moderates())
	p := &Participant{id: newID("PA_"), name: r.uniqueNameLocked(name), room: r, conn: conn, joinedAt: time.Now().UTC(), sendOnly: opts.SendOnly,
		who: who, waiting: knock, chatLimit: rate.NewLimiter(5, 20), reactLimit: rate.NewLimiter(2, 5)}
	if knock {
		r.lobby[p.id] = p
		r.mu.Unlock()
		m.mu.Unlock()
		if resume {
			go r.SetTranscription(true, nil)
		}
		r.knocked(p)
		return p, nil
	}
	p.token = newID("") + newID("")
	r.participants[p.id] = p
	m.byToken[p.token] = p
	m.participants++
	r.mu.Unlock()
	m.mu.Unlock()
	if resume {
		go func() {
			if err := r.SetTranscription(true, nil); err != nil {
				r.log.Warn("the continued meeting's transcription did not resume", "err", err)
			}
		}()
	}
	if err := r.enter(p); err != nil {
		return nil, err
	}
	return p, nil
}

// enter gives a participant now in r.participants their media side,
// tells them and the others, and subscribes them to the room's tracks.
func (r *Room) enter(p *Participant) error {
	peer, err := r.m.sfu.NewPeer(p.id, p, p)
	if err != nil {
		r.remove(p, ReasonLeft)
		return err
	}
	p.mu.Lock()
	p.peer = peer
	p.mu.Unlock()
	key := r.admitted(p)

	r.mu.Lock()
	others := r.othersLocked(p)
	tracks := make([]*sfu.Track, 0, len(r.tracks))
	for _, t := range r.tracks {
		tracks = append(tracks, t)
	}
	joined := r.joinedLocked(p)
	r.mu.Unlock()
	joined.MeetingKey = key
	r.noteAttendance(NoteJoined, p)

	p.send(joined)
	info := p.Info()
	for _, o := range others {
		o.send(ParticipantJoined{Participant: info})
	}
	for _, t := range tracks {
		p.subscribe(t)
	}
	r.log.Info("participant joined", "participant", p.id, "participants", len(others)+1)
	return nil
}

// Resume reattaches a participant whose signalling socket dropped to a
// new one, within the peer timeout. Media keeps flowing meanwhile.
func (m *Manager) Resume(token string, conn Conn) (*Participant, error) {
	m.mu.Lock()
	p := m.byToken[token]
	closing := m.closing
	m.mu.Unlock()
	if closing {
		return nil, ErrShuttingDown
	}
	if p == nil || token == "" {
		return nil, ErrResumeFailed
	}
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return nil, ErrResumeFailed
	}
	old := p.conn
	p.conn = conn
	p.socketLost = false
	p.updateTimerLocked()
	p.mu.Unlock()
	if old != nil {
		old.Close(ReasonReplaced)
	}
	r := p.room
	r.mu.Lock()
	joined := r.joinedLocked(p)
	r.mu.Unlock()
	joined.Resumed = true
	p.send(joined)
	// Offers sent while the socket was down were lost: offer again.
	p.peer.Renegotiate()
	r.log.Info("participant resumed", "participant", p.id)
	return p, nil
}

func (r *Room) joinedLocked(p *Participant) Joined {
	j := Joined{ParticipantID: p.id, Room: r.id, ResumeToken: p.token, ICEServers: r.m.sfu.ICEServers(p.id),
		ActiveSpeaker: r.speaker, MeetingID: r.meetingID, MeetingStarted: r.createdAt.UTC(), Transcription: r.trState,
		TranscriptionAvailable: r.m.opts.Speech != nil, Settings: r.settings, Role: p.Identity().Role,
		Recording: r.recState, RecordingAvailable: r.m.opts.Recorder != nil}
	if p.who.moderates() {
		j.Lobby = r.lobbyLocked()
	}
	for _, o := range r.sortedLocked() {
		j.Participants = append(j.Participants, o.Info())
	}
	for _, o := range r.remotes {
		j.Participants = append(j.Participants, o.Info())
	}
	for _, t := range r.tracks {
		j.Tracks = append(j.Tracks, t.Info())
	}
	sort.Slice(j.Tracks, func(a, b int) bool { return j.Tracks[a].ID < j.Tracks[b].ID })
	return j
}

func (r *Room) sortedLocked() []*Participant {
	ps := make([]*Participant, 0, len(r.participants))
	for _, p := range r.participants {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(a, b int) bool { return ps[a].joinedAt.Before(ps[b].joinedAt) })
	return ps
}

func (r *Room) othersLocked(p *Participant) []*Participant {
	out := make([]*Participant, 0, len(r.participants))
	for _, o := range r.participants {
		if o != p {
			out = append(out, o)
		}
	}
	return out
}

func (r *Room) everyone() []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.othersLocked(nil)
}

func (r *Room) broadcast(ev Event) {
	for _, p := range r.everyone() {
		p.send(ev)
	}
}

// remove takes a participant out of the room, closes its media, tells
// the others and closes the room when it was the last one.
func (r *Room) remove(p *Participant, reason string) {
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return
	}
	p.gone = true
	if p.lostTimer != nil {
		p.lostTimer.Stop()
	}
	peer := p.peer
	p.mu.Unlock()

	m := r.m
	m.mu.Lock()
	r.mu.Lock()
	delete(r.participants, p.id)
	delete(m.byToken, p.token)
	m.participants--
	wasClosed := r.closed
	live := r.live
	endLive, endRec := r.closeIfEmptyLocked()
	empty := r.closed
	r.mu.Unlock()
	m.mu.Unlock()

	if peer != nil {
		// Ends p's tracks: TrackEnded unsubscribes the others, and their
		// taps flush what p said last into the transcript.
		peer.Close()
	}
	if live != nil {
		noteAttendance(r, live, NoteLeft, p)
	}
	if endLive != nil {
		// The meeting is over: finish its transcript.
		endLive.End()
	}
	if endRec != nil {
		endRec.End(Speaker{})
	}
	if empty && !wasClosed && r.m.opts.Recorder != nil {
		r.m.opts.Recorder.MeetingEnded(MeetingInfo{ID: r.meetingID, Title: r.id, Started: r.createdAt.UTC()})
	}
	r.broadcast(ParticipantLeft{ParticipantID: p.id, Reason: reason})
	if reason == ReasonConnectionLost {
		// Its socket may still be up (only the media was lost): say so
		// and close it, or the client would stay in a room that no
		// longer has it. The client can then join again.
		p.send(Bye{Reason: reason})
		p.closeConn(reason)
	}
	r.log.Info("participant left", "participant", p.id, "reason", reason, "room_closed", empty)
}

// validChat cleans a chat message: control characters other than line
// breaks and tabs, and bidirectional controls (which make text display in
// another order than it is read, e.g. to disguise a link) are removed.
func validChat(text string) (string, error) {
	if !utf8.ValidString(text) {
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidChat)
	}
	text = strings.Map(func(r rune) rune {
		if (unicode.IsControl(r) && r != '\n' && r != '\t') || isBidiControl(r) {
			return -1
		}
		return r
	}, text)
	text = strings.TrimSpace(text)
	switch n := utf8.RuneCountInString(text); {
	case n == 0:
		return "", fmt.Errorf("%w: empty", ErrInvalidChat)
	case n > MaxChatLen:
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidChat, MaxChatLen)
	}
	return text, nil
}

// Participants returns how many participants a room has now (0 when it
// does not exist).
func (m *Manager) Participants(roomID string) int {
	m.mu.Lock()
	r := m.rooms[roomID]
	m.mu.Unlock()
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.participants)
}

// Room returns a live room.
func (m *Manager) Room(id string) (*Room, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[id]
	return r, ok
}

// Tracks returns the room's published tracks.
func (r *Room) Tracks() []*sfu.Track {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*sfu.Track, 0, len(r.tracks))
	for _, t := range r.tracks {
		out = append(out, t)
	}
	return out
}
