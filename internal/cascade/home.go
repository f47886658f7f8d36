package cascade

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/sfu"
)

// Home relays the rooms hosted on this node that edges ask for.
type Home struct {
	nc    *nats.Conn
	rooms func(id string) (*room.Room, bool)
	log   *slog.Logger
	sub   *nats.Subscription

	mu      sync.Mutex
	relays  map[string]*homeRoom
	stopped bool
}

// StartHome answers edges' requests for the rooms rooms finds here.
func StartHome(nc *nats.Conn, rooms func(id string) (*room.Room, bool), log *slog.Logger) (*Home, error) {
	h := &Home{nc: nc, rooms: rooms, log: log, relays: map[string]*homeRoom{}}
	sub, err := nc.Subscribe("parley.cascade.*.want", func(m *nats.Msg) {
		id := roomOf(m.Subject)
		if r, ok := h.rooms(id); ok && !r.Edge() {
			h.want(r)
		}
	})
	if err != nil {
		return nil, err
	}
	h.sub = sub
	return h, nil
}

// roomOf is the room id of a cascade subject.
func roomOf(subj string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(subj, "parley.cascade."), ".")
	return id
}

func (h *Home) want(r *room.Room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	if hr := h.relays[r.ID()]; hr != nil {
		hr.wanted.Store(time.Now().UnixNano())
		return
	}
	hr := &homeRoom{h: h, r: r, sinks: map[string]*relaySink{}, done: make(chan struct{})}
	hr.wanted.Store(time.Now().UnixNano())
	h.relays[r.ID()] = hr
	go hr.run()
	h.log.Info("cascade: relaying a room to edges", "room", r.ID())
}

// Relaying reports how many rooms this node relays now.
func (h *Home) Relaying() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.relays)
}

// Stop stops relaying.
func (h *Home) Stop() {
	h.mu.Lock()
	h.stopped = true
	relays := h.relays
	h.relays = map[string]*homeRoom{}
	h.mu.Unlock()
	h.sub.Unsubscribe()
	for _, hr := range relays {
		hr.stop()
	}
}

// homeRoom relays one room.
type homeRoom struct {
	h      *Home
	r      *room.Room
	wanted atomic.Int64          // unix nanoseconds of the last want
	sinks  map[string]*relaySink // by track id; the run loop's
	keys   *nats.Subscription
	once   sync.Once
	done   chan struct{}
}

func (hr *homeRoom) stop() { hr.once.Do(func() { close(hr.done) }) }

func (hr *homeRoom) run() {
	id := hr.r.ID()
	keys, err := hr.h.nc.Subscribe(subject(id, "key"), func(m *nats.Msg) {
		k, ok := decode[KeyRequest](m.Data)
		if !ok {
			return
		}
		for _, t := range hr.r.Tracks() {
			if t.ID() == k.Track {
				t.RequestKeyframe(k.Layer)
			}
		}
	})
	if err != nil {
		hr.h.log.Warn("cascade: keyframe requests not heard", "room", id, "err", err)
	}
	hr.r.WatchCaptions(func(c room.Caption) {
		b, _ := json.Marshal(c)
		hr.h.nc.Publish(subject(id, "caption"), b)
	})
	tick := time.NewTicker(wantEvery)
	defer func() {
		hr.r.WatchCaptions(nil)
		tick.Stop()
		if keys != nil {
			keys.Unsubscribe()
		}
		for _, s := range hr.sinks {
			s.t.RemoveSink(s)
		}
		hr.h.mu.Lock()
		if hr.h.relays[id] == hr {
			delete(hr.h.relays, id)
		}
		hr.h.mu.Unlock()
		hr.h.log.Info("cascade: no edge asks for the room any more", "room", id)
	}()
	for {
		// Every second, changed or not: it is also the edges' sign that
		// the home node is there.
		b, _ := json.Marshal(hr.sync())
		hr.h.nc.Publish(subject(id, "state"), b)
		select {
		case <-hr.done:
			return
		case <-hr.r.Done():
			return
		case <-tick.C:
		}
		if time.Since(time.Unix(0, hr.wanted.Load())) > wantExpiry {
			return
		}
	}
}

// sync puts a relay sink on every track of the room and describes them.
func (hr *homeRoom) sync() State {
	st := State{Meeting: hr.r.MeetingID(), Transcription: hr.r.Transcription()}
	for _, p := range hr.r.People() {
		st.People = append(st.People, Person{ID: p.ID, Name: p.Name, Role: p.Role})
	}
	seen := map[string]bool{}
	for _, t := range hr.r.Tracks() {
		info := t.Info()
		seen[t.ID()] = true
		if hr.sinks[t.ID()] == nil {
			s := &relaySink{nc: hr.h.nc, t: t, subj: subject(hr.r.ID(), "rtp", t.ID())}
			hr.sinks[t.ID()] = s
			t.AddSink(s)
		}
		st.Tracks = append(st.Tracks, Track{RelayedTrack: t.Relay(), Owner: info.OwnerID, Muted: info.Muted})
	}
	for id, s := range hr.sinks {
		if !seen[id] {
			s.t.RemoveSink(s)
			delete(hr.sinks, id)
		}
	}
	return st
}

// relaySink publishes a track's packets, every layer, for the edges.
type relaySink struct {
	nc   *nats.Conn
	t    *sfu.Track
	subj string
	mu   sync.Mutex
	buf  []byte
}

// WriteRTP implements sfu.Sink.
func (s *relaySink) WriteRTP(p *sfu.Packet) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 1 + p.Packet.MarshalSize()
	if cap(s.buf) < n {
		s.buf = make([]byte, n, 1500)
	}
	b := s.buf[:n]
	b[0] = byte(p.Layer)
	if _, err := p.Packet.MarshalTo(b[1:]); err != nil {
		return 0
	}
	if s.nc.Publish(s.subj, b) != nil {
		return 0
	}
	return n - 1
}
