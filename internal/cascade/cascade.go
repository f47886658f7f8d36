// Package cascade relays a room's tracks from its home node to edge
// nodes over NATS, for a meeting larger than one node (a webinar of a
// few speakers and thousands of listeners): the home node publishes
// every packet of every track once; NATS delivers one copy to each edge
// that asked for the room; each edge forwards them to its own
// subscribers with the same SFU code as any track (sfu.NewRelayPeer).
//
// Subjects, for room R (room ids are subject-safe: [a-z-]):
//
//	parley.cascade.R.want       edge → home, every second: "I serve R" (the edge's node id)
//	parley.cascade.R.state      home → edges, every second and on change: who publishes what (State)
//	parley.cascade.R.rtp.TRACK  home → edges: one RTP packet, after a byte giving its simulcast layer
//	parley.cascade.R.key        edge → home: a keyframe request (KeyRequest)
//	parley.cascade.R.caption    home → edges: a live caption (room.Caption)
//
// The home node stops relaying a room 5 s after the last edge asked for
// it; an edge whose home stops answering keeps its listeners and shows
// nothing until it answers again.
package cascade

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/sfu"
)

// Timing.
const (
	wantEvery  = time.Second     // an edge's "want" and the home's state
	wantExpiry = 5 * time.Second // a home relays a room this long after the last want
)

func subject(room string, parts ...string) string {
	return "parley.cascade." + room + "." + strings.Join(parts, ".")
}

// State is what the home node says of a room: the people who publish
// there and their tracks.
type State struct {
	Meeting       string                  `json:"meeting"`
	People        []Person                `json:"people"`
	Tracks        []Track                 `json:"tracks"`
	Transcription room.TranscriptionState `json:"transcription"`
}

// Person is a participant at the home node.
type Person struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// Track is a published track at the home node.
type Track struct {
	sfu.RelayedTrack
	Owner string `json:"owner"`
	Muted bool   `json:"muted"`
}

// KeyRequest asks the home node for a keyframe of a track's layer.
type KeyRequest struct {
	Track string `json:"track"`
	Layer int    `json:"layer"`
}

func decode[T any](b []byte) (T, bool) {
	var v T
	return v, json.Unmarshal(b, &v) == nil
}
