package room

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Server-wide caps: what one Parley process holds at most, whoever asks.
// A room costs a speaker goroutine and its tracks' forwarding; a
// participant two peer connections and a signalling socket. The defaults
// are sized well above what one machine forwards (a few hundred
// participants with video on a 2-core host) and well below what would
// exhaust memory (tens of kilobytes a participant before any media), so
// that a flood of joins is refused with a clear code rather than slowing
// every meeting already in progress.
const (
	DefaultMaxRooms             = 1000
	DefaultMaxParticipantsTotal = 5000
)

// Errors of the server-wide caps.
var (
	ErrServerFull   = errors.New("server has reached its participant limit")
	ErrTooManyRooms = errors.New("server has reached its room limit")
)

// capDefaults fills the caps left zero.
func (o *Options) capDefaults() {
	if o.MaxRooms <= 0 {
		o.MaxRooms = DefaultMaxRooms
	}
	if o.MaxParticipantsTotal <= 0 {
		o.MaxParticipantsTotal = DefaultMaxParticipantsTotal
	}
}

func newJoinsRefused() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_joins_refused_total",
		Help: "Joins refused by a server-wide cap, by reason (server_full, too_many_rooms)."}, []string{"reason"})
}

// checkCapsLocked refuses a join that would go over a server-wide cap: a
// participant beyond MaxParticipantsTotal, or a new room beyond MaxRooms.
// m.mu is held.
func (m *Manager) checkCapsLocked(roomID string) error {
	if m.participants >= m.opts.MaxParticipantsTotal {
		m.refused.WithLabelValues("server_full").Inc()
		return ErrServerFull
	}
	if _, ok := m.rooms[roomID]; !ok && len(m.rooms) >= m.opts.MaxRooms {
		m.refused.WithLabelValues("too_many_rooms").Inc()
		return ErrTooManyRooms
	}
	return nil
}
