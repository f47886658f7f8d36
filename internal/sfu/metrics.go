package sfu

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Drop reasons for parley_rtp_packets_dropped_total. A drop is a packet of
// a layer a subscriber should receive that it did not get.
const (
	DropMuted      = "muted"       // the publisher muted the track
	DropPaused     = "paused"      // the subscriber paused the track
	DropKeyframe   = "no_keyframe" // waiting for a keyframe to start or switch
	DropWriteError = "write_error" // the transport refused the packet
	DropMalformed  = "malformed"   // not a parseable RTP packet
	DropLate       = "late"        // older than a layer switch point
	DropTapFull    = "tap_full"    // a slow tap (speech, recorder) dropped it
	DropDuplicate  = "duplicate"   // a copy of a packet already received (padding)
	DropPacedLate  = "paced_late"  // waited over paceMaxAge in a narrow subscriber's pacer
	DropTemporal   = "temporal"    // a VP8 temporal layer above the subscriber's cap
	DropResendSoon = "resend_soon" // a NACK for a packet resent less than a round trip ago
	// A publisher's retransmission (RTX) read as its layer's media: its
	// repair stream did not name the layer (track.go, onRepairAsMedia).
	DropRepairAsMedia = "repair_as_media"
)

// Metrics holds the SFU's counters. Hot-path counts live in plain atomics
// and are exported through CounterFuncs, so the per-packet path never
// touches a Prometheus label map.
type Metrics struct {
	tracks      atomic.Int64
	forwarded   atomic.Uint64
	bytes       atomic.Uint64
	nacks       atomic.Uint64
	nacksSent   atomic.Uint64
	retransmits atomic.Uint64
	plis        atomic.Uint64
	recovered   atomic.Uint64
	drops       map[string]*atomic.Uint64
}

// NewMetrics creates the SFU counters and registers them on reg (nil
// registers nothing, for tests that build several servers).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{drops: map[string]*atomic.Uint64{}}
	for _, r := range []string{DropMuted, DropPaused, DropKeyframe, DropWriteError, DropMalformed, DropLate, DropTapFull, DropDuplicate, DropPacedLate, DropTemporal, DropResendSoon, DropRepairAsMedia} {
		m.drops[r] = new(atomic.Uint64)
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_tracks_published", Help: "Media tracks currently published."},
			func() float64 { return float64(m.tracks.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_rtp_packets_forwarded_total", Help: "RTP packets sent to subscribers."},
			func() float64 { return float64(m.forwarded.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_rtp_bytes_forwarded_total", Help: "RTP payload and header bytes sent to subscribers."},
			func() float64 { return float64(m.bytes.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_nack_total", Help: "Packets subscribers asked to be retransmitted (RTCP NACK)."},
			func() float64 { return float64(m.nacks.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_nack_sent_total", Help: "Packets asked again of publishers (RTCP NACK), lost on their uplinks."},
			func() float64 { return float64(m.nacksSent.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_rtp_retransmits_total", Help: "Packets resent to subscribers from the packet cache after a NACK."},
			func() float64 { return float64(m.retransmits.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_rtp_packets_recovered_total", Help: "Audio packets lost on a publisher's uplink and recovered from the redundancy (RED) of the next ones."},
			func() float64 { return float64(m.recovered.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_pli_total", Help: "Keyframe requests (RTCP PLI) sent to publishers, after throttling."},
			func() float64 { return float64(m.plis.Load()) }),
	)
	for reason, c := range m.drops {
		c := c
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "parley_rtp_packets_dropped_total",
			Help:        "RTP packets not forwarded to a subscriber, by reason.",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(c.Load()) }))
	}
	return m
}

func (m *Metrics) drop(reason string, n uint64) { m.drops[reason].Add(n) }

// Snapshot is a copy of the counters, for tests and the load tool.
type Snapshot struct {
	Tracks      int64
	Forwarded   uint64
	Bytes       uint64
	NACKs       uint64 // asked by subscribers
	NACKsSent   uint64 // asked of publishers
	Retransmits uint64
	PLIs        uint64
	Recovered   uint64
	Drops       map[string]uint64
}

// Snapshot reads all counters.
func (m *Metrics) Snapshot() Snapshot {
	s := Snapshot{Tracks: m.tracks.Load(), Forwarded: m.forwarded.Load(), Bytes: m.bytes.Load(),
		NACKs: m.nacks.Load(), NACKsSent: m.nacksSent.Load(), Retransmits: m.retransmits.Load(), PLIs: m.plis.Load(), Recovered: m.recovered.Load(), Drops: map[string]uint64{}}
	for r, c := range m.drops {
		s.Drops[r] = c.Load()
	}
	return s
}
