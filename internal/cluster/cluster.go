// Package cluster lets several Parley nodes share the work over NATS
// JetStream: a registry of the live nodes (a key-value bucket whose
// entries expire unless their node renews them: a dead node drops out by
// itself) and the placement of rooms (a bucket of room → node, written
// with compare-and-set, so that a room lives on exactly one node at a
// time, and moves when its node is gone).
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Node is one node's record in the registry.
type Node struct {
	ID string `json:"id"`
	// PublicURL is where browsers reach the node (its signalling socket
	// is PublicURL + "/ws").
	PublicURL string `json:"public_url"`
	// Load is the participants the node serves; Capacity how many it
	// takes (0: no limit).
	Load     int  `json:"load"`
	Capacity int  `json:"capacity"`
	Draining bool `json:"draining"`
}

// Options configure a node's membership.
type Options struct {
	URLs      []string // NATS servers
	Auth      Auth     // how to prove ourselves to NATS (optional)
	NodeID    string
	PublicURL string
	Capacity  int
	// Load reports the node's load at each heartbeat.
	Load func() int
	// Heartbeat is how often the node renews its entry (default 2 s);
	// an entry not renewed for TTL (default 3 heartbeats) expires.
	Heartbeat, TTL time.Duration
	// Replicas of the buckets (default: 3 when the NATS cluster has
	// three servers or more, else 1).
	Replicas int
	Logger   *slog.Logger
}

// Bucket names.
const (
	NodesBucket = "parley_nodes"
	RoomsBucket = "parley_rooms"
)

// ErrNoNode means no live node may take a room.
var ErrNoNode = errors.New("cluster: no node available")

// Cluster is this node's membership.
type Cluster struct {
	o     Options
	nc    *nats.Conn
	js    jetstream.JetStream
	nodes jetstream.KeyValue
	rooms jetstream.KeyValue
	log   *slog.Logger

	peers atomic.Pointer[[]Node] // the registry at the last heartbeat

	mu       sync.Mutex
	draining bool
	touch    chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

// Join connects to NATS, opens (or creates) the buckets and registers
// the node; it renews the registration until Close.
func Join(ctx context.Context, o Options) (*Cluster, error) {
	if o.NodeID == "" {
		return nil, errors.New("cluster: a node needs an id")
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 2 * time.Second
	}
	if o.TTL <= 0 {
		o.TTL = 3 * o.Heartbeat
	}
	if o.Load == nil {
		o.Load = func() int { return 0 }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	opts, err := o.Auth.options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.Name("parley "+o.NodeID), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second))
	nc, err := nats.Connect(strings.Join(o.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: nats: %w", err)
	}
	c := &Cluster{o: o, nc: nc, log: o.Logger, touch: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if err := c.open(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	if err := c.register(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	go c.heartbeat()
	return c, nil
}

func (c *Cluster) open(ctx context.Context) error {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	c.js = js
	replicas := c.o.Replicas
	if replicas <= 0 {
		replicas = 1
		if len(c.nc.Servers()) >= 3 {
			replicas = 3
		}
	}
	if c.nodes, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: NodesBucket, TTL: c.o.TTL, Replicas: replicas,
		Description: "Parley nodes: entries expire unless renewed"}); err != nil {
		return fmt.Errorf("cluster: %s bucket: %w", NodesBucket, err)
	}
	if c.rooms, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: RoomsBucket, Replicas: replicas,
		Description: "Parley rooms: the node hosting each"}); err != nil {
		return fmt.Errorf("cluster: %s bucket: %w", RoomsBucket, err)
	}
	return nil
}

// Conn is the node's NATS connection (cascading relays media over it).
func (c *Cluster) Conn() *nats.Conn { return c.nc }

// Full reports whether a node takes no more participants.
func (n Node) Full() bool { return n.Capacity > 0 && n.Load >= n.Capacity }

// ID is this node's id.
func (c *Cluster) ID() string { return c.o.NodeID }

// Self is this node's record as registered now.
func (c *Cluster) Self() Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Node{ID: c.o.NodeID, PublicURL: c.o.PublicURL, Load: c.o.Load(), Capacity: c.o.Capacity, Draining: c.draining}
}

func (c *Cluster) register(ctx context.Context) error {
	b, _ := json.Marshal(c.Self())
	if _, err := c.nodes.Put(ctx, c.o.NodeID, b); err != nil {
		return fmt.Errorf("cluster: register %s: %w", c.o.NodeID, err)
	}
	return nil
}

func (c *Cluster) heartbeat() {
	defer close(c.done)
	t := time.NewTicker(c.o.Heartbeat)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		case <-c.touch:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.o.Heartbeat)
		err := c.register(ctx)
		if nodes, lerr := c.Nodes(ctx); lerr == nil {
			c.peers.Store(&nodes)
		}
		cancel()
		if err != nil && !failing {
			c.log.Warn("cluster: heartbeat failed: other nodes will think this one gone", "err", err)
		} else if err == nil && failing {
			c.log.Info("cluster: heartbeat back")
		}
		failing = err != nil
	}
}

// Peers is the registry as last read (every heartbeat): for what may
// be a few seconds stale, such as which origins may open a socket here.
func (c *Cluster) Peers() []Node {
	if p := c.peers.Load(); p != nil {
		return *p
	}
	return nil
}

// Touch renews the node's entry soon, with its load as it is then (a
// room or participant was just added): placements elsewhere see it
// before the next heartbeat.
func (c *Cluster) Touch() {
	select {
	case c.touch <- struct{}{}:
	default:
	}
}

// Drain marks the node as taking no new rooms (its rooms go on).
func (c *Cluster) Drain(ctx context.Context) error {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	return c.register(ctx)
}

// Nodes lists the live nodes, by id.
func (c *Cluster) Nodes(ctx context.Context) ([]Node, error) {
	keys, err := c.nodes.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: nodes: %w", err)
	}
	var out []Node
	for _, k := range keys {
		if n, ok, err := c.node(ctx, k); err != nil {
			return nil, err
		} else if ok {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// node reads one node's record; ok is false when it is not registered
// (never, or expired).
func (c *Cluster) node(ctx context.Context, id string) (Node, bool, error) {
	e, err := c.nodes.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return Node{}, false, nil
	}
	if err != nil {
		return Node{}, false, fmt.Errorf("cluster: node %s: %w", id, err)
	}
	var n Node
	if err := json.Unmarshal(e.Value(), &n); err != nil {
		return Node{}, false, fmt.Errorf("cluster: node %s: %w", id, err)
	}
	return n, true, nil
}

// pick chooses the node for a new room: the least loaded for its
// capacity of the live nodes that take rooms, this one on a tie.
func (c *Cluster) pick(nodes []Node) (Node, error) {
	var best Node
	bestScore := -1.0
	for _, n := range nodes {
		if n.Draining || n.Capacity > 0 && n.Load >= n.Capacity {
			continue
		}
		score := float64(n.Load)
		if n.Capacity > 0 {
			score /= float64(n.Capacity)
		}
		if bestScore < 0 || score < bestScore || score == bestScore && n.ID == c.o.NodeID {
			best, bestScore = n, score
		}
	}
	if bestScore < 0 {
		return Node{}, ErrNoNode
	}
	return best, nil
}

// Place returns the node that hosts roomID: the one it is placed on if
// that node is alive, else a node chosen now (pick) and written with
// compare-and-set, so that nodes placing the same room at once agree.
func (c *Cluster) Place(ctx context.Context, roomID string) (Node, error) {
	return c.place(ctx, roomID, c.pick)
}

// Claim is Place preferring this node: a participant arriving with a
// join token for a room that lost its placement meanwhile (it ended, or
// its node died) makes it live here rather than being sent on.
func (c *Cluster) Claim(ctx context.Context, roomID string) (Node, error) {
	return c.place(ctx, roomID, func(nodes []Node) (Node, error) {
		if self := c.Self(); !self.Draining {
			return self, nil
		}
		return c.pick(nodes)
	})
}

func (c *Cluster) place(ctx context.Context, roomID string, choose func([]Node) (Node, error)) (Node, error) {
	for {
		// A request sent while its stream's leader goes can get no
		// answer at all: each attempt has its own deadline, so the next
		// one reaches the new leader (seen in CI: a key read waiting 30 s
		// after one of three servers stopped).
		actx, cancel := context.WithTimeout(ctx, placeAttempt)
		n, err := c.placeOnce(actx, roomID, choose)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("%w (no answer within %v)", nats.ErrTimeout, placeAttempt)
		}
		if err == nil || !transient(err) {
			return n, err
		}
		// NATS is moving this client to another server, or electing a
		// stream leader: try again until the caller gives up.
		select {
		case <-ctx.Done():
			return Node{}, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// placeAttempt bounds one attempt at placing a room.
const placeAttempt = 3 * time.Second

// transient tells an error that a retry may not meet.
func transient(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrTimeout) ||
		strings.Contains(err.Error(), "temporarily unavailable")
}

// placement is a room's entry in RoomsBucket: its node, and the meeting
// going on there (which a node taking the room over continues).
type placement struct {
	Node         string    `json:"node"`
	Meeting      string    `json:"meeting,omitempty"`
	Started      time.Time `json:"started,omitzero"`
	Transcribing bool      `json:"transcribing,omitempty"`
}

func (p placement) encode() []byte {
	b, _ := json.Marshal(p)
	return b
}

// parsePlacement reads an entry: JSON, or a bare node id (the first
// nodes' entries).
func parsePlacement(b []byte) placement {
	var p placement
	if json.Unmarshal(b, &p) != nil {
		return placement{Node: string(b)}
	}
	return p
}

func (c *Cluster) placeOnce(ctx context.Context, roomID string, choose func([]Node) (Node, error)) (Node, error) {
	for range 10 {
		e, err := c.rooms.Get(ctx, roomID)
		var rev uint64
		var was placement
		switch {
		case err == nil:
			was = parsePlacement(e.Value())
			if n, ok, err := c.node(ctx, was.Node); err != nil {
				return Node{}, err
			} else if ok {
				return n, nil
			}
			rev = e.Revision() // its node is gone: move it, with its meeting
		case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		default:
			return Node{}, fmt.Errorf("cluster: room %s: %w", roomID, err)
		}
		// Listing the registry needs JetStream's meta leader, which a
		// NATS cluster re-elects for a while when a server goes (seen:
		// 18 s); reading and writing keys does not. Without the list this
		// node takes the room itself.
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		nodes, err := c.Nodes(lctx)
		cancel()
		if err != nil {
			c.log.Warn("cluster: the registry cannot be listed: this node takes the room", "room", roomID, "err", err)
			nodes = []Node{c.Self()}
		} else if !slices.ContainsFunc(nodes, func(n Node) bool { return n.ID == c.o.NodeID }) {
			// Just joined, and the list read back through another
			// server does not show it yet (seen in tests: "no node
			// available" on a one-node cluster): it is alive all the same.
			nodes = append(nodes, c.Self())
		}
		n, err := choose(nodes)
		if err != nil {
			return Node{}, err
		}
		if rev == 0 {
			_, err = c.rooms.Create(ctx, roomID, placement{Node: n.ID}.encode())
		} else {
			was.Node = n.ID
			_, err = c.rooms.Update(ctx, roomID, was.encode(), rev)
		}
		if err == nil {
			if rev != 0 {
				c.log.Info("cluster: room moved from a node that is gone", "room", roomID, "to", n.ID)
			}
			return n, nil
		}
		if !conflict(err) {
			return Node{}, fmt.Errorf("cluster: place %s: %w", roomID, err)
		}
		// Another node placed it in between: read again.
	}
	return Node{}, fmt.Errorf("cluster: place %s: too many concurrent placements", roomID)
}

// conflict tells a compare-and-set that lost.
func conflict(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return errors.Is(err, jetstream.ErrKeyExists)
}

// Release removes roomID's placement if it is on this node (the room
// ended here); a room placed elsewhere meanwhile is left alone.
func (c *Cluster) Release(ctx context.Context, roomID string) error {
	e, err := c.rooms.Get(ctx, roomID)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cluster: release %s: %w", roomID, err)
	}
	if parsePlacement(e.Value()).Node != c.o.NodeID {
		return nil
	}
	if err := c.rooms.Delete(ctx, roomID, jetstream.LastRevision(e.Revision())); err != nil && !conflict(err) {
		return fmt.Errorf("cluster: release %s: %w", roomID, err)
	}
	return nil
}

// Handover places roomID, hosted here, on another node (the least
// loaded that takes rooms), with the meeting it records: this node is
// draining, and the room's participants are about to come back through
// that node. ErrNoNode when no other node takes rooms.
func (c *Cluster) Handover(ctx context.Context, roomID string) (Node, error) {
	for range 10 {
		e, err := c.rooms.Get(ctx, roomID)
		if err != nil {
			return Node{}, fmt.Errorf("cluster: room %s: %w", roomID, err)
		}
		p := parsePlacement(e.Value())
		if p.Node != c.o.NodeID {
			return Node{}, fmt.Errorf("cluster: room %s is not on this node", roomID)
		}
		nodes, err := c.Nodes(ctx)
		if err != nil {
			return Node{}, err
		}
		others := slices.DeleteFunc(nodes, func(n Node) bool { return n.ID == c.o.NodeID })
		n, err := c.pick(others)
		if err != nil {
			return Node{}, err
		}
		p.Node = n.ID
		if _, err = c.rooms.Update(ctx, roomID, p.encode(), e.Revision()); err == nil {
			c.log.Info("cluster: room handed over", "room", roomID, "to", n.ID)
			return n, nil
		} else if !conflict(err) {
			return Node{}, fmt.Errorf("cluster: hand %s over: %w", roomID, err)
		}
	}
	return Node{}, fmt.Errorf("cluster: room %s: too many concurrent updates", roomID)
}

// Meeting is the meeting going on in a room, as its placement records it.
type Meeting struct {
	ID           string
	Started      time.Time
	Transcribing bool
}

// placement reads roomID's entry; ok is false when it has none.
func (c *Cluster) placement(ctx context.Context, roomID string) (p placement, ok bool, err error) {
	e, err := c.rooms.Get(ctx, roomID)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return placement{}, false, nil
	}
	if err != nil {
		return placement{}, false, fmt.Errorf("cluster: room %s: %w", roomID, err)
	}
	return parsePlacement(e.Value()), true, nil
}

func (p placement) meeting() Meeting {
	return Meeting{ID: p.Meeting, Started: p.Started, Transcribing: p.Transcribing}
}

// Placed returns the meeting recorded with roomID's placement, whatever
// node hosts it (ok false: the room is not placed, or records none).
func (c *Cluster) Placed(ctx context.Context, roomID string) (m Meeting, ok bool, err error) {
	p, _, err := c.placement(ctx, roomID)
	return p.meeting(), p.Meeting != "", err
}

// Meeting returns the meeting recorded with roomID's placement when the
// room is placed on this node: the one it continues if another node held
// it until it died. ok is false for none.
func (c *Cluster) Meeting(ctx context.Context, roomID string) (m Meeting, ok bool, err error) {
	p, _, err := c.placement(ctx, roomID)
	if err != nil || p.Node != c.o.NodeID || p.Meeting == "" {
		return Meeting{}, false, err
	}
	return p.meeting(), true, nil
}

// SetMeeting records the meeting going on in roomID on this node with
// its placement.
func (c *Cluster) SetMeeting(ctx context.Context, roomID, meetingID string, started time.Time) error {
	return c.update(ctx, roomID, func(p *placement) {
		p.Meeting, p.Started = meetingID, started.UTC()
	})
}

// SetTranscribing records whether the meeting in roomID is transcribed.
func (c *Cluster) SetTranscribing(ctx context.Context, roomID string, on bool) error {
	return c.update(ctx, roomID, func(p *placement) { p.Transcribing = on })
}

// update changes roomID's placement with compare-and-set, if the room is
// placed on this node (a room placed elsewhere meanwhile is left alone).
func (c *Cluster) update(ctx context.Context, roomID string, change func(*placement)) error {
	for range 10 {
		e, err := c.rooms.Get(ctx, roomID)
		if err != nil {
			return fmt.Errorf("cluster: room %s: %w", roomID, err)
		}
		p := parsePlacement(e.Value())
		if p.Node != c.o.NodeID {
			return nil
		}
		was := p
		if change(&p); p == was {
			return nil
		}
		_, err = c.rooms.Update(ctx, roomID, p.encode(), e.Revision())
		if err == nil || !conflict(err) {
			return err
		}
	}
	return fmt.Errorf("cluster: room %s: too many concurrent updates", roomID)
}

// Close stops the heartbeat, removes the node from the registry (its
// rooms move on their next join) and disconnects.
func (c *Cluster) Close() {
	close(c.stop)
	<-c.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	c.nodes.Delete(ctx, c.o.NodeID)
	cancel()
	c.nc.Drain()
}
