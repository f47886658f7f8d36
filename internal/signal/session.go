package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/sfu"
)

// Socket limits and timers.
const (
	// hardReadLimit closes a socket that sends a single frame this large;
	// messages between MaxMessageSize and this get an error reply and are
	// discarded without being buffered.
	hardReadLimit = 4 << 20
	writeTimeout  = 5 * time.Second
	pingInterval  = 15 * time.Second
	// maxQueue bounds a slow client's backlog; beyond it the socket is
	// closed (the participant can resume) rather than grow memory.
	maxQueue = 4096
	// maxRefused closes a socket that has this many messages refused for
	// its rate within refusedWindow: it is not a client that listens to
	// its errors. (Counted in a window, not in a row: a flood is still a
	// flood when the rate lets one message through every 20 ms.)
	maxRefused    = 1000
	refusedWindow = 10 * time.Second
)

// Options configures the signalling endpoint.
type Options struct {
	Logger *slog.Logger
	// Origins lists extra allowed Origin host patterns (the page's own
	// host is always allowed).
	Origins []string
	// JoinTimeout closes a socket that has not joined by then (default
	// 10 s): an idle socket costs a goroutine pair and buffers.
	JoinTimeout time.Duration
	// Rate and Burst bound the messages one socket may send, of every
	// type (default 50 a second, bursts of 200: a browser sends a few
	// dozen at once when it joins or its grid changes, then a few a
	// minute).
	Rate  float64
	Burst int
	// Registerer receives the endpoint's counters (optional).
	Registerer prometheus.Registerer
	// Keys checks join tokens: a join must carry one (required).
	Keys *access.Keys
	// Admit, with several nodes, refuses a join for a room that lives
	// on another node (optional).
	Admit func(ctx context.Context, roomID string) error
	// PeerOrigins, with several nodes, lists the other nodes' hosts: a
	// page one of them served may open its socket here.
	PeerOrigins func() []string
}

// Server accepts signalling WebSockets at GET /ws.
type Server struct {
	mgr     *room.Manager
	log     *slog.Logger
	opts    Options
	refused *prometheus.CounterVec

	mu       sync.Mutex
	sessions map[*Session]struct{}
	wg       sync.WaitGroup
}

// NewServer creates the signalling endpoint.
func NewServer(mgr *room.Manager, opts Options) *Server {
	if opts.Keys == nil {
		panic("signal: Options.Keys is required: joins are checked against signed tokens")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.JoinTimeout <= 0 {
		opts.JoinTimeout = 10 * time.Second
	}
	if opts.Rate <= 0 {
		opts.Rate = 50
	}
	if opts.Burst <= 0 {
		opts.Burst = 200
	}
	s := &Server{mgr: mgr, log: opts.Logger, opts: opts, sessions: map[*Session]struct{}{},
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_signal_refused_total",
			Help: "Signalling messages or sockets refused by a limit, by reason (rate, join_timeout, flooding, token, and the per-participant tracks, candidates, media_sections)."}, []string{"reason"})}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(s.refused)
	}
	return s
}

// ServeHTTP upgrades the request and runs the session until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origins := s.opts.Origins
	if s.opts.PeerOrigins != nil {
		origins = append(slices.Clip(origins), s.opts.PeerOrigins()...)
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: origins})
	if err != nil {
		s.log.Debug("websocket accept", "err", err)
		return
	}
	c.SetReadLimit(hardReadLimit)
	sess := &Session{c: c, srv: s, log: s.log, wake: make(chan struct{}, 1), done: make(chan struct{}),
		limit: rate.NewLimiter(rate.Limit(s.opts.Rate), s.opts.Burst)}
	s.mu.Lock()
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, sess)
		s.mu.Unlock()
		s.wg.Done()
	}()
	sess.run(r.Context())
}

// Wait blocks until every session has ended (after the room manager has
// closed them on shutdown).
func (s *Server) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for sess := range s.sessions {
			sess.c.CloseNow()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// Session is one signalling connection. It implements room.Conn: the
// room queues events, one writer goroutine sends them.
type Session struct {
	c   *websocket.Conn
	srv *Server
	log *slog.Logger

	mu      sync.Mutex
	queue   [][]byte
	closing bool
	reason  string
	wake    chan struct{}
	done    chan struct{}

	part *room.Participant // set by the reader goroutine only
	left bool

	joined atomic.Bool
	limit  *rate.Limiter
	// Reader goroutine only.
	refusedRun   int       // messages refused since the last one let through
	refusedSince time.Time // start of the window of refused
	refusedN     int       // messages refused in that window
}

var _ room.Conn = (*Session)(nil)

func (s *Session) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		s.writeLoop(ctx)
	}()
	joinBy := time.AfterFunc(s.srv.opts.JoinTimeout, func() {
		if !s.joined.Load() {
			s.srv.refused.WithLabelValues("join_timeout").Inc()
			s.sendError(NewError(CodeJoinTimeout, fmt.Sprintf("no join within %s", s.srv.opts.JoinTimeout)), "", 0)
			s.Close("join timeout")
		}
	})
	s.readLoop(ctx)
	joinBy.Stop()
	if s.part != nil && !s.left {
		s.part.SocketLost(s)
	}
	s.Close("")
	writer.Wait()
	s.c.CloseNow()
}

func (s *Session) readLoop(ctx context.Context) {
	for {
		typ, r, err := s.c.Reader(ctx)
		if err != nil {
			return
		}
		b, err := io.ReadAll(io.LimitReader(r, MaxMessageSize+1))
		if err != nil {
			return
		}
		var over int64
		if len(b) > MaxMessageSize {
			n, err := io.Copy(io.Discard, r)
			if err != nil {
				return
			}
			over = int64(len(b)) + n
		}
		if !s.allow() {
			if s.refusedN >= maxRefused {
				s.srv.refused.WithLabelValues("flooding").Inc()
				s.log.Warn("signalling socket closed: it kept sending past its rate")
				s.Close("flooding")
				return
			}
			continue
		}
		if over > 0 {
			s.sendError(NewError(CodeTooLarge, "message over 64 KiB discarded"), "", over)
			continue
		}
		if typ != websocket.MessageText {
			s.sendError(NewError(CodeMalformed, "binary messages are not part of the protocol"), "", 0)
			continue
		}
		m, err := Decode(b)
		if err != nil {
			ref := ""
			if m != nil {
				ref = m.Ref
			}
			s.sendError(err, ref, 0)
			continue
		}
		if err := s.handle(m); err != nil {
			s.sendError(err, m.Ref, 0)
		}
		if s.left {
			return
		}
	}
}

// allow applies the socket's rate to one message: a refused message is
// dropped and counted, and the first of a run is answered with an error,
// so a client that listens slows down and one that does not gets one
// error, not thousands.
func (s *Session) allow() bool {
	if s.limit.Allow() {
		s.refusedRun = 0
		return true
	}
	s.srv.refused.WithLabelValues("rate").Inc()
	s.refusedRun++
	if now := time.Now(); now.Sub(s.refusedSince) > refusedWindow {
		s.refusedSince, s.refusedN = now, 0
	}
	s.refusedN++
	if s.refusedRun == 1 {
		s.sendError(NewError(CodeRateLimited, fmt.Sprintf("more than %g messages a second: messages dropped", s.srv.opts.Rate)), "", 0)
	}
	return false
}

// handle runs one validated message.
func (s *Session) handle(m *Inbound) error {
	if m.Type == TypePing {
		s.enqueue(pongMsg{Type: TypePong, TS: m.TS})
		return nil
	}
	if m.Type == TypeJoin {
		if s.part != nil {
			return NewError(CodeAlreadyJoined, "this socket has already joined; open another one")
		}
		var p *room.Participant
		var err error
		if m.ResumeToken != "" {
			p, err = s.srv.mgr.Resume(m.ResumeToken, s)
		} else {
			p, err = s.joinWithToken(m)
		}
		if err != nil {
			return err
		}
		s.part = p
		s.joined.Store(true)
		return nil
	}
	p := s.part
	if p == nil {
		return NewError(CodeNotJoined, m.Type+" before join")
	}
	if p.Waiting() && m.Type != TypeLeave {
		// A knocker gets nothing and does nothing until admitted.
		return room.ErrNotAdmitted
	}
	switch m.Type {
	case TypeOffer:
		answer, err := p.Offer(m.SDP)
		if err != nil {
			return err
		}
		s.enqueue(answerMsg{Type: TypeAnswer, SDP: answer, Ref: m.Ref})
	case TypeAnswer:
		return p.Answer(m.SDP)
	case TypeCandidate:
		return p.Candidate(sfu.Target(m.Target), m.Candidate.init())
	case TypePublish:
		return p.Publish(sfu.Publication{ClientTrackID: m.ClientTrackID, Source: m.Source, Simulcast: m.Simulcast, SharedMic: m.SharedMic, Speakers: m.Speakers})
	case TypeUnpublish:
		return p.Unpublish(m.TrackID)
	case TypeMute:
		return p.Mute(m.TrackID, *m.Muted)
	case TypeSubscription:
		return p.SetSubscription(m.TrackID, m.Layer, m.Paused != nil && *m.Paused)
	case TypeRaiseHand:
		p.RaiseHand(*m.Raised)
	case TypeReaction:
		return p.React(m.Emoji)
	case TypeChat:
		return p.Chat(m.Text)
	case TypeICERestart:
		p.RestartICE()
	case TypeTranscription:
		return p.SetTranscription(*m.Enabled)
	case TypeRecording:
		return p.SetRecording(*m.Enabled)
	case TypeOptOut:
		p.SetOptOut(*m.OptOut)
	case TypeCaptions:
		p.SetCaptions(*m.Enabled)
	case TypeSharedMic:
		return p.SetSharedMic(m.TrackID, *m.Shared, m.Speakers)
	case TypeModerate:
		return p.Moderate(room.Action{Kind: m.Action, Target: m.ParticipantID, Value: m.Value != nil && *m.Value, Policy: m.Policy})
	case TypeLeave:
		s.left = true
		p.Leave()
		s.Send(room.Bye{Reason: room.ReasonLeft})
		s.Close(room.ReasonLeft)
	}
	return nil
}

// joinWithToken joins with what the join token says, never with what
// the message claims: the room, name and role are the server's.
func (s *Session) joinWithToken(m *Inbound) (*room.Participant, error) {
	c, err := s.srv.opts.Keys.Use(m.Token)
	if err != nil {
		s.srv.refused.WithLabelValues("token").Inc()
		return nil, tokenError(err)
	}
	if m.Room != "" && m.Room != c.Room {
		s.srv.refused.WithLabelValues("token").Inc()
		return nil, NewError(CodeTokenRoom, "this join token is for another room")
	}
	if s.srv.opts.Admit != nil {
		if err := s.srv.opts.Admit(context.Background(), c.Room); err != nil {
			s.srv.refused.WithLabelValues("node").Inc()
			return nil, err
		}
	}
	return s.srv.mgr.Join(c.Room, c.Name, s, room.JoinOptions{
		SendOnly: m.Subscribe != nil && !*m.Subscribe,
		Identity: room.Identity{Subject: c.Subject, Role: c.Role, Guest: c.Guest, Addr: c.Addr},
		Lobby:    c.Lobby,
	})
}

func (s *Session) sendError(err error, ref string, size int64) {
	if le := (*sfu.LimitError)(nil); errors.As(err, &le) {
		s.srv.refused.WithLabelValues(le.Limit).Inc()
	}
	e := errorReply(err, ref)
	if e.Code == CodeInternal {
		s.log.Warn("signalling request failed", "err", err)
	}
	s.enqueue(e)
}

// errorReply is the error message for a failed request: the error's code
// and text, except that a server fault's text stays in the server's log.
func errorReply(err error, ref string) errorMsg {
	code := CodeOf(err)
	msg := err.Error()
	if code == CodeInternal {
		msg = "internal error"
	}
	return errorMsg{Type: TypeError, Code: code, Name: code.String(), Message: msg, Ref: ref}
}

// Send implements room.Conn.
func (s *Session) Send(ev room.Event) {
	b, err := encode(ev)
	if err != nil {
		s.log.Error("event not sent", "err", err)
		return
	}
	s.push(b)
}

// SendOffer implements sfu.Signaler.
func (s *Session) SendOffer(sdp string, tracks map[string]string) {
	s.enqueue(offerMsg{Type: TypeOffer, SDP: sdp, Mids: tracks})
}

// Close implements room.Conn: the socket closes after the queue drains.
func (s *Session) Close(reason string) {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		s.reason = reason
	}
	s.mu.Unlock()
	s.signal()
}

func (s *Session) enqueue(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("marshal", "err", err)
		return
	}
	s.push(b)
}

func (s *Session) push(b []byte) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= maxQueue {
		s.closing, s.reason, s.queue = true, "too slow", nil
		s.mu.Unlock()
		s.log.Warn("signalling client too slow; closing its socket")
		s.c.CloseNow()
		s.signal()
		return
	}
	s.queue = append(s.queue, b)
	s.mu.Unlock()
	s.signal()
}

func (s *Session) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// writeLoop sends queued messages in order; it is the only writer.
func (s *Session) writeLoop(ctx context.Context) {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, 2*pingInterval/3)
			err := s.c.Ping(pctx)
			cancel()
			if err != nil {
				s.c.CloseNow()
				return
			}
			continue
		case <-s.wake:
		}
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		closing, reason := s.closing, s.reason
		s.mu.Unlock()
		for _, b := range batch {
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := s.c.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				s.c.CloseNow()
				return
			}
		}
		if closing {
			s.mu.Lock()
			empty := len(s.queue) == 0
			s.mu.Unlock()
			if empty {
				s.c.Close(websocket.StatusNormalClosure, reason)
				return
			}
		}
	}
}
