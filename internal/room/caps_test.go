package room

import (
	"errors"
	"fmt"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/parleyhq/parley/internal/sfu"
)

// TestServerWideCaps: past MaxRooms a join that would open a new room is
// refused while joins into a live room still pass; past
// MaxParticipantsTotal every join is refused; a departure makes room
// again; each refusal is counted.
func TestServerWideCaps(t *testing.T) {
	s, err := sfu.New(sfu.Options{Interfaces: []string{"lo"}, TCPPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(Options{SFU: s, MaxRooms: 2, MaxParticipantsTotal: 3})
	t.Cleanup(func() {
		m.Shutdown()
		s.Close()
	})
	join := func(room string, i int) (*Participant, error) {
		return m.Join(room, fmt.Sprint("P", i), &conn{}, JoinOptions{})
	}
	a1, err := join("room-aaaa-one", 1)
	if err != nil {
		t.Fatal(err)
	}
	b1, err := join("room-bbbb-two", 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := join("room-cccc-three", 3); !errors.Is(err, ErrTooManyRooms) {
		t.Fatalf("third room: %v, want ErrTooManyRooms", err)
	}
	if _, err := join("room-aaaa-one", 4); err != nil {
		t.Fatalf("join into a live room at the room cap: %v", err)
	}
	for _, room := range []string{"room-aaaa-one", "room-cccc-three"} {
		if _, err := join(room, 5); !errors.Is(err, ErrServerFull) {
			t.Fatalf("fourth participant in %s: %v, want ErrServerFull", room, err)
		}
	}
	a1.Leave()
	if _, err := join("room-aaaa-one", 6); err != nil {
		t.Fatalf("join after a departure: %v", err)
	}
	if _, err := join("room-cccc-three", 7); !errors.Is(err, ErrServerFull) {
		t.Fatalf("new room with the server full: %v", err)
	}
	b1.Leave() // room-bbbb-two ends
	if rooms, n := m.Stats(); rooms != 1 || n != 2 {
		t.Fatalf("stats: %d rooms, %d participants", rooms, n)
	}
	if _, err := join("room-cccc-three", 8); err != nil {
		t.Fatalf("new room under both caps: %v", err)
	}
	count := func(reason string) float64 {
		var d dto.Metric
		m.refused.WithLabelValues(reason).Write(&d)
		return d.GetCounter().GetValue()
	}
	if full, rooms := count("server_full"), count("too_many_rooms"); full != 3 || rooms != 1 {
		t.Fatalf("refusals counted: server_full %v, too_many_rooms %v", full, rooms)
	}
}
