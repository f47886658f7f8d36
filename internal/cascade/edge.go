package cascade

import (
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/sfu"
)

// Edge serves here a room hosted on another node: it asks the home node
// for the room, adds the people there as remote participants of the
// local (edge) room and feeds their tracks with the relayed packets.
type Edge struct {
	nc   *nats.Conn
	r    *room.Room
	node string
	log  *slog.Logger

	mu     sync.Mutex // held while a state is applied
	people map[string]bool
	tracks map[string]*edgeTrack
	state  *nats.Subscription
	caps   *nats.Subscription
	seen   time.Time // when the home node last said the room's state
	once   sync.Once
	done   chan struct{}
}

type edgeTrack struct {
	t     *sfu.Track
	owner *room.Participant
	sub   *nats.Subscription
}

// StartEdge starts serving the edge room r (its meeting hosted on
// another node); node is this node's id.
func StartEdge(nc *nats.Conn, r *room.Room, node string, log *slog.Logger) (*Edge, error) {
	e := &Edge{nc: nc, r: r, node: node, log: log.With("room", r.ID()), people: map[string]bool{}, tracks: map[string]*edgeTrack{},
		done: make(chan struct{})}
	sub, err := nc.Subscribe(subject(r.ID(), "state"), func(m *nats.Msg) {
		if st, ok := decode[State](m.Data); ok {
			e.apply(st, true)
		}
	})
	if err != nil {
		return nil, err
	}
	e.state = sub
	if e.caps, err = nc.Subscribe(subject(r.ID(), "caption"), func(m *nats.Msg) {
		if c, ok := decode[room.Caption](m.Data); ok {
			r.Caption(c)
		}
	}); err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	go e.ask()
	e.log.Info("cascade: serving a room of another node here")
	return e, nil
}

// ask tells the home node, every second, that this edge serves the room;
// a home node silent for wantExpiry has nobody left to show here.
func (e *Edge) ask() {
	tick := time.NewTicker(wantEvery)
	defer tick.Stop()
	for {
		e.nc.Publish(subject(e.r.ID(), "want"), []byte(e.node))
		e.mu.Lock()
		silent := len(e.people) > 0 && time.Since(e.seen) > wantExpiry
		e.mu.Unlock()
		if silent {
			e.log.Info("cascade: the home node stopped answering; its people are gone from here")
			e.apply(State{}, false)
		}
		select {
		case <-e.done:
			return
		case <-e.r.Done():
			e.Stop()
			return
		case <-tick.C:
		}
	}
}

// Stop stops serving the room (it closed here).
func (e *Edge) Stop() {
	e.once.Do(func() {
		close(e.done)
		e.state.Unsubscribe()
		e.caps.Unsubscribe()
		e.mu.Lock()
		defer e.mu.Unlock()
		for id, et := range e.tracks {
			et.sub.Unsubscribe()
			delete(e.tracks, id)
		}
	})
}

// apply makes the edge room what the home node says (heard: it said
// it now): its people as remote participants, their tracks published
// here and fed.
func (e *Edge) apply(st State, heard bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.done:
		return
	default:
	}
	if heard {
		e.seen = time.Now()
		e.r.MirrorTranscription(st.Transcription)
	}
	owners := map[string]*room.Participant{}
	people := map[string]bool{}
	for _, p := range st.People {
		rp, err := e.r.AddRemote(p.ID, p.Name, p.Role, e.keyframe)
		if err != nil {
			e.log.Debug("cascade: remote participant not added", "participant", p.ID, "err", err)
			continue
		}
		owners[p.ID], people[p.ID] = rp, true
	}
	for id := range e.people {
		if !people[id] {
			e.r.RemoveRemote(id) // its tracks end with it
			for tid, et := range e.tracks {
				if et.owner.ID() == id {
					et.sub.Unsubscribe()
					delete(e.tracks, tid)
				}
			}
		}
	}
	e.people = people
	listed := map[string]bool{}
	for _, tr := range st.Tracks {
		owner := owners[tr.Owner]
		if owner == nil {
			continue
		}
		listed[tr.ID] = true
		et := e.tracks[tr.ID]
		if et == nil {
			t, err := owner.Peer().PublishRelayed(tr.RelayedTrack)
			if err != nil {
				e.log.Warn("cascade: relayed track not published", "track", tr.ID, "err", err)
				continue
			}
			sub, err := e.nc.Subscribe(subject(e.r.ID(), "rtp", tr.ID), func(m *nats.Msg) {
				if len(m.Data) > 1 {
					t.Feed(int(m.Data[0]), m.Data[1:])
				}
			})
			if err != nil {
				e.log.Warn("cascade: relayed track not received", "track", tr.ID, "err", err)
				owner.Peer().EndRelayed(tr.ID)
				continue
			}
			et = &edgeTrack{t: t, owner: owner, sub: sub}
			e.tracks[tr.ID] = et
		}
		if et.t.Muted() != tr.Muted {
			et.t.SetMuted(tr.Muted)
		}
	}
	for id, et := range e.tracks {
		if !listed[id] {
			et.sub.Unsubscribe()
			et.owner.Peer().EndRelayed(id)
			delete(e.tracks, id)
		}
	}
}

// keyframe asks the home node for a keyframe (a subscriber here needs one).
func (e *Edge) keyframe(trackID string, layer int) {
	b, _ := json.Marshal(KeyRequest{Track: trackID, Layer: layer})
	e.nc.Publish(subject(e.r.ID(), "key"), b)
}
