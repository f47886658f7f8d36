package signal

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

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
)

// Server accepts signalling WebSockets at GET /ws.
type Server struct {
	mgr     *room.Manager
	log     *slog.Logger
	origins []string

	mu       sync.Mutex
	sessions map[*Session]struct{}
	wg       sync.WaitGroup
}

// NewServer creates the signalling endpoint. origins lists extra allowed
// Origin host patterns (the page's own host is always allowed).
func NewServer(mgr *room.Manager, log *slog.Logger, origins []string) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{mgr: mgr, log: log, origins: origins, sessions: map[*Session]struct{}{}}
}

// ServeHTTP upgrades the request and runs the session until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.origins})
	if err != nil {
		s.log.Debug("websocket accept", "err", err)
		return
	}
	c.SetReadLimit(hardReadLimit)
	sess := &Session{c: c, srv: s, log: s.log, wake: make(chan struct{}, 1), done: make(chan struct{})}
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
	s.readLoop(ctx)
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
		if len(b) > MaxMessageSize {
			n, err := io.Copy(io.Discard, r)
			if err != nil {
				return
			}
			s.sendError(NewError(CodeTooLarge, "message over 64 KiB discarded"), "", int64(len(b))+n)
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
			p, err = s.srv.mgr.Join(m.Room, m.Name, s, room.JoinOptions{SendOnly: m.Subscribe != nil && !*m.Subscribe})
		}
		if err != nil {
			return err
		}
		s.part = p
		return nil
	}
	p := s.part
	if p == nil {
		return NewError(CodeNotJoined, m.Type+" before join")
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
		p.Publish(sfu.Publication{ClientTrackID: m.ClientTrackID, Source: m.Source, Simulcast: m.Simulcast, SharedMic: m.SharedMic, Speakers: m.Speakers})
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
	case TypeOptOut:
		p.SetOptOut(*m.OptOut)
	case TypeCaptions:
		p.SetCaptions(*m.Enabled)
	case TypeSharedMic:
		return p.SetSharedMic(m.TrackID, *m.Shared, m.Speakers)
	case TypeLeave:
		s.left = true
		p.Leave()
		s.Send(room.Bye{Reason: room.ReasonLeft})
		s.Close(room.ReasonLeft)
	}
	return nil
}

func (s *Session) sendError(err error, ref string, size int64) {
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
