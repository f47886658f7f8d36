package server

import (
	"context"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/cascade"
	"github.com/parleyhq/parley/internal/cluster"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/store"
)

// Several nodes (--nats): they share the store (PostgreSQL), so the key
// that signs join tokens is the store's; each registers in the cluster
// once it listens; a join asks the cluster where its room lives and
// sends the browser's signalling socket there; a node takes a socket
// only for a room placed on it.

// tokenKeyName is the store's secret that signs join tokens when nodes
// share the store.
const tokenKeyName = "join-token-key"

// loadKeys is the join-token key: the store's, shared by every node, with
// --nats; else the data directory's.
func loadKeys(ctx context.Context, cfg config.Config, st *store.DB) (*access.Keys, error) {
	if len(cfg.NATS) == 0 {
		return access.LoadKeys(cfg.DataDir)
	}
	k, err := st.Secret(ctx, tokenKeyName, 32)
	if err != nil {
		return nil, err
	}
	return access.NewKeys(k), nil
}

// nodeID is --node-id, else the host name.
func nodeID(cfg config.Config) string {
	if cfg.NodeID != "" {
		return cfg.NodeID
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "parley"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, h)
}

// natsAuth is how this process proves itself to NATS.
func natsAuth(cfg config.Config) cluster.Auth {
	return cluster.Auth{CredsFile: cfg.NATSCreds, NKeyFile: cfg.NATSNKey}
}

// joinCluster registers the node (Start, once it listens).
func (s *Server) joinCluster() error {
	if len(s.cfg.NATS) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := cluster.Join(ctx, cluster.Options{URLs: s.cfg.NATS, Auth: natsAuth(s.cfg), NodeID: nodeID(s.cfg),
		PublicURL: s.URL(), Capacity: s.cfg.Limits.MaxParticipants, Logger: s.log.With("part", "cluster"),
		Load: func() int { _, n := s.Rooms.Stats(); return n }})
	if err != nil {
		return err
	}
	if s.home, err = cascade.StartHome(c.Conn(), s.Rooms.Room, s.log.With("part", "cascade")); err != nil {
		c.Close()
		return err
	}
	s.cluster.Store(c)
	return nil
}

// Cascading (package cascade): a join for a room whose home node is full
// is served by an edge — this node, if it has room — which the home node
// relays the meeting's tracks to.

// edgeHere reports whether this node serves a room hosted on n as an
// edge: n is full and this node is not (nor draining).
func (s *Server) edgeHere(c *cluster.Cluster, n cluster.Node) bool {
	self := c.Self()
	return n.ID != self.ID && n.Full() && !self.Full() && !self.Draining
}

// placeJoin tells the join API where the room's signalling socket is:
// "" for this node, else the hosting node's socket URL.
func (s *Server) placeJoin(ctx context.Context, roomID string) (string, error) {
	c := s.cluster.Load()
	if c == nil {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := c.Place(ctx, roomID)
	if err != nil {
		s.log.Warn("no node for a join", "room", roomID, "err", err)
		return "", signal.NewError(signal.CodeNoNode, "no node can take this meeting now: try again in a moment")
	}
	if s.edgeHere(c, n) {
		n = c.Self()
	}
	if n.ID == c.ID() && s.cfg.SiteURL == "" {
		return "", nil // the page's own origin is this node
	}
	return socketURL(n.PublicURL), nil
}

// admit lets a signalling socket join roomID here only if the room is
// placed here (claiming it when it has no live node).
func (s *Server) admit(ctx context.Context, roomID string) error {
	c := s.cluster.Load()
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := c.Claim(ctx, roomID)
	if err != nil {
		s.log.Warn("no node for a socket's join", "room", roomID, "err", err)
		return signal.NewError(signal.CodeNoNode, "no node can take this meeting now: try again in a moment")
	}
	switch r, live := s.Rooms.Room(roomID); {
	case s.edgeHere(c, n):
		s.edgeRooms.Store(roomID, true) // the room, when it becomes live here, is an edge
	case n.ID != c.ID():
		return signal.NewError(signal.CodeRoomElsewhere, "this meeting is on another node: ask for a join token again")
	case !live || !r.Edge():
		s.edgeRooms.Delete(roomID) // hosted here: not an edge (any more)
	}
	// The participant joins right after: publish the new load then.
	time.AfterFunc(100*time.Millisecond, c.Touch)
	return nil
}

// roomClosed releases a room's placement when it ends here (an edge
// room's feed stops).
func (s *Server) roomClosed(roomID string) {
	s.edgeRooms.Delete(roomID)
	if e, ok := s.edges.LoadAndDelete(roomID); ok {
		e.(*cascade.Edge).Stop()
	}
	c := s.cluster.Load()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Release(ctx, roomID); err != nil {
		s.log.Warn("room placement not released", "room", roomID, "err", err)
	}
}

// continuedMeeting is the meeting a room continues as it becomes live
// here: the one its placement records, when the node that held it died.
func (s *Server) continuedMeeting(roomID string) (room.LiveMeeting, bool) {
	c := s.cluster.Load()
	if c == nil {
		return room.LiveMeeting{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, edge := s.edgeRooms.Load(roomID); edge {
		// An edge shows the home node's meeting: its id and clock.
		m, _, err := c.Placed(ctx, roomID)
		if err != nil {
			s.log.Warn("an edge room's meeting could not be read", "room", roomID, "err", err)
		}
		return room.LiveMeeting{MeetingInfo: room.MeetingInfo{ID: m.ID, Title: roomID, Started: m.Started}, Edge: true}, true
	}
	m, ok, err := c.Meeting(ctx, roomID)
	if err != nil {
		s.log.Warn("a room's meeting could not be read: it starts a new one", "room", roomID, "err", err)
	}
	if ok {
		s.log.Info("room continues its meeting from a node that is gone", "room", roomID, "meeting", m.ID, "transcribing", m.Transcribing)
	}
	return room.LiveMeeting{MeetingInfo: room.MeetingInfo{ID: m.ID, Title: roomID, Started: m.Started}, Transcribing: m.Transcribing}, ok
}

// meetingTranscribed records with a room's placement whether its meeting
// is transcribed (a node taking it over resumes the captions); bounded,
// for NATS may be down.
func (s *Server) meetingTranscribed(roomID string, on bool) {
	c := s.cluster.Load()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.SetTranscribing(ctx, roomID, on); err != nil {
		s.log.Warn("a room's transcription not recorded with its placement", "room", roomID, "on", on, "err", err)
	}
}

// meetingOpened records a room's meeting with its placement, for the node
// that would take the room over.
func (s *Server) meetingOpened(roomID string, m room.MeetingInfo) {
	c := s.cluster.Load()
	if c == nil {
		return
	}
	if r, ok := s.Rooms.Room(roomID); ok && r.Edge() {
		e, err := cascade.StartEdge(c.Conn(), r, c.ID(), s.log.With("part", "cascade"))
		if err != nil {
			s.log.Warn("edge room not fed: its listeners see nobody", "room", roomID, "err", err)
			return
		}
		s.edges.Store(roomID, e)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.SetMeeting(ctx, roomID, m.ID, m.Started); err != nil {
		s.log.Warn("a room's meeting not recorded with its placement: a failover would start a new one", "room", roomID, "err", err)
	}
}

// socketURL is a node's signalling socket.
func socketURL(publicURL string) string {
	u := strings.TrimRight(publicURL, "/")
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		return "wss://" + rest + "/ws"
	}
	return "ws://" + strings.TrimPrefix(u, "http://") + "/ws"
}

// peerHosts are the other nodes' hosts (Origin patterns), peerSockets
// their socket origins (CSP connect-src), from the registry.
func (s *Server) peerHosts() []string {
	var out []string
	for _, n := range s.peers() {
		if u, err := url.Parse(n.PublicURL); err == nil && u.Host != "" {
			out = append(out, u.Host)
		}
	}
	return out
}

func (s *Server) peerSockets() []string {
	var out []string
	if s.cfg.SiteURL != "" {
		// The page's origin is the site: this node's socket is not 'self'.
		out = append(out, strings.TrimSuffix(socketURL(s.URL()), "/ws"))
	}
	for _, n := range s.peers() {
		out = append(out, strings.TrimSuffix(socketURL(n.PublicURL), "/ws"))
	}
	return out
}

func (s *Server) peers() []cluster.Node {
	c := s.cluster.Load()
	if c == nil {
		return nil
	}
	var out []cluster.Node
	for _, n := range c.Peers() {
		if n.ID != c.ID() {
			out = append(out, n)
		}
	}
	return out
}
