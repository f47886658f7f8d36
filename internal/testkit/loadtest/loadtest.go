// Package loadtest drives a Parley server with pion clients over the
// network (loopback in tests and benchmarks) and reports what arrived:
// tracks, packets, loss, bitrate, join time and forwarding delay, plus the
// server's CPU per forwarded packet read from its /metrics.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/parleyhq/parley/internal/testkit/client"
)

// ErrMissingTracks is returned (with the report) when a subscriber did not
// receive every track it should have.
var ErrMissingTracks = errors.New("tracks missing")

// Config is one load run.
type Config struct {
	URL string
	// MetricsURL is the base URL of the server's metrics listener
	// (--metrics-listen), where the server's figures are read; empty:
	// the report has none.
	MetricsURL      string
	Room            string
	VideoPublishers int
	AudioPublishers int
	Subscribers     int
	Layer           string // low, medium or high
	Duration        time.Duration
	JoinRate        float64 // joins per second
	Codec           string  // vp8 or h264
	NoSimulcast     bool
	Burst           bool   // send each video frame's packets at once, unpaced
	AudioFile       string // Ogg/Opus, 20 ms packets
	VideoFile       string // IVF (VP8)
	Interfaces      []string
	// Record: the first publisher (the room's creator, so its moderator)
	// starts recording the meeting before anyone publishes.
	Record bool
	// Settle is how long after the last join the measurement waits before
	// it starts, so keyframes and layer switches are done.
	Settle time.Duration
	// Network, when set, places each participant on a network of its
	// own (an emulated one: netlab) by role ("publisher", "subscriber")
	// and index from 0; it returns the client's options to use there.
	Network func(role string, i int) client.Options
	// NoRepair: the clients neither NACK nor retransmit (browsers do).
	NoRepair bool
	// PublisherRepair is how publishers send what the server NACKs:
	// "" on the media stream (as Firefox's did), "rtx" as RTX (browsers
	// do), "rtx-unnamed" as RTX whose packets carry the layer's
	// rtp-stream-id instead of repaired-rtp-stream-id (pion's responder
	// alone).
	PublisherRepair string
}

// options are a participant's client options on its network.
func (c *Config) options(role string, i int, o client.Options) client.Options {
	o.Interfaces = c.Interfaces
	o.NoRepair = c.NoRepair
	if role == "publisher" && c.PublisherRepair != "" {
		o.RTX, o.RTXUnnamed = true, c.PublisherRepair == "rtx-unnamed"
	}
	if c.Network != nil {
		n := c.Network(role, i)
		o.Interfaces, o.Net, o.DialContext = n.Interfaces, n.Net, n.DialContext
		o.UseICEServers, o.RelayOnly, o.TURNRoots = n.UseICEServers, n.RelayOnly, n.TURNRoots
	}
	return o
}

// Report is the result of a run; its JSON keys are the load tool's
// output format (docs/benchmarks.md), which scripts parse.
type Report struct {
	TracksExpected  int     `json:"tracks_expected"`
	TracksReceived  int     `json:"tracks_received"`
	PacketsReceived uint64  `json:"packets_received"`
	BytesReceived   uint64  `json:"bytes_received"`
	PacketLossPct   float64 `json:"packet_loss_pct"`
	OutOfOrder      uint64  `json:"packets_out_of_order"`
	BitrateBps      float64 `json:"bitrate_bps"`
	JoinMsP50       float64 `json:"join_ms_p50"`
	JoinMsP99       float64 `json:"join_ms_p99"`
	DelayMsP50      float64 `json:"delay_ms_p50"`
	DelayMsP99      float64 `json:"delay_ms_p99"`
	DelaySamples    int     `json:"delay_samples"`
	WindowSeconds   float64 `json:"window_seconds"`
	LoadCPUSeconds  float64 `json:"load_tool_cpu_seconds"`
	Server          *Server `json:"server,omitempty"`
}

// Server is what the server's /metrics said over the measurement window.
type Server struct {
	CPUSeconds         float64 `json:"cpu_seconds"`
	PacketsForwarded   float64 `json:"packets_forwarded"`
	PacketsPerSecond   float64 `json:"packets_forwarded_per_second"`
	CPUMicrosPerPacket float64 `json:"cpu_us_per_forwarded_packet"`
	PeakRSSBytes       float64 `json:"peak_rss_bytes"`
	Dropped            float64 `json:"packets_dropped"`
	NACKs              float64 `json:"nacks"`
	Retransmits        float64 `json:"retransmits"`
	PLIs               float64 `json:"plis"`
}

func (c *Config) defaults() {
	if c.Room == "" {
		c.Room = "load-test-room"
	}
	if c.Layer == "" {
		c.Layer = "high"
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.JoinRate <= 0 {
		c.JoinRate = 20
	}
	if c.Codec == "" {
		c.Codec = "vp8"
	}
	if c.Interfaces == nil {
		c.Interfaces = []string{"lo"}
	}
	if c.Settle == 0 {
		c.Settle = 2 * time.Second
	}
}

// Run performs one load run, printing progress to log.
func Run(ctx context.Context, cfg Config, log io.Writer) (*Report, error) {
	cfg.defaults()
	switch cfg.Layer {
	case "low", "medium", "high":
	default:
		return nil, fmt.Errorf("layer %q: want low, medium or high", cfg.Layer)
	}
	var audioPkts [][]byte
	var videoFrames [][]byte
	fps := 30
	var err error
	if cfg.AudioFile != "" {
		if audioPkts, err = client.LoadOggOpus(cfg.AudioFile); err != nil {
			return nil, err
		}
	}
	if cfg.VideoFile != "" {
		if videoFrames, fps, err = client.LoadIVF(cfg.VideoFile); err != nil {
			return nil, err
		}
		if cfg.Codec != "vp8" {
			return nil, fmt.Errorf("--video-file is VP8 (IVF); --codec %s does not apply", cfg.Codec)
		}
	}
	cpu0 := cpuSeconds()
	var clients []*client.Client
	var mu sync.Mutex
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	pace := time.NewTicker(time.Duration(float64(time.Second) / cfg.JoinRate))
	defer pace.Stop()
	next := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-pace.C:
			return nil
		}
	}
	opCtx := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 15*time.Second) }

	// Publishers join send-only: they load the server with media in, not
	// with extra subscriptions among themselves.
	for i := 0; i < cfg.VideoPublishers+cfg.AudioPublishers; i++ {
		if err := next(); err != nil {
			return nil, err
		}
		recording := make(chan string, 1)
		c, err := client.Connect(ctx, cfg.URL, cfg.options("publisher", i, client.Options{SendOnly: true, OnMessage: func(m client.Message) {
			if m.Type == "recording" || (m.Type == "error" && m.Code == 4040) {
				select {
				case recording <- m.Type:
				default:
				}
			}
		}}))
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
		jctx, cancel := opCtx()
		_, err = c.Join(jctx, cfg.Room, fmt.Sprintf("publisher %d", i+1))
		if err == nil && i == 0 && cfg.Record {
			if err = c.Send(map[string]any{"type": "recording", "enabled": true}); err == nil {
				select {
				case got := <-recording:
					if got != "recording" {
						err = fmt.Errorf("recording refused: the room existed before this run")
					}
				case <-jctx.Done():
					err = fmt.Errorf("recording: %w", jctx.Err())
				}
			}
		}
		if err == nil {
			if i < cfg.VideoPublishers {
				_, err = c.PublishVideo(jctx, client.VideoOptions{Codec: cfg.Codec, Simulcast: !cfg.NoSimulcast, Frames: videoFrames, FPS: fps, Burst: cfg.Burst})
			} else {
				_, err = c.PublishAudio(jctx, client.AudioOptions{Packets: audioPkts, Loop: true})
			}
		}
		cancel()
		if err != nil {
			return nil, fmt.Errorf("publisher %d: %w", i+1, err)
		}
	}
	fmt.Fprintf(log, "loadtest: %d publishers sending\n", cfg.VideoPublishers+cfg.AudioPublishers)

	subs := make([]*client.Client, 0, cfg.Subscribers)
	for i := 0; i < cfg.Subscribers; i++ {
		if err := next(); err != nil {
			return nil, err
		}
		// c is set before join is sent, so before any message can call this.
		var c *client.Client
		layerFor := func(tracks []client.TrackInfo) {
			for _, t := range tracks {
				if t.Kind == "video" {
					c.Subscribe(t.ID, cfg.Layer, false)
				}
			}
		}
		c, err = client.Connect(ctx, cfg.URL, cfg.options("subscriber", i, client.Options{NoReports: true, OnMessage: func(m client.Message) {
			switch {
			case m.Type == "joined":
				go layerFor(m.Tracks)
			case m.Type == "track_published" && m.Track != nil:
				go layerFor([]client.TrackInfo{*m.Track})
			}
		}}))
		if err != nil {
			return nil, err
		}
		mu.Lock()
		clients = append(clients, c)
		mu.Unlock()
		jctx, cancel := opCtx()
		_, err = c.Join(jctx, cfg.Room, fmt.Sprintf("subscriber %d", i+1))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("subscriber %d: %w", i+1, err)
		}
		subs = append(subs, c)
	}
	fmt.Fprintf(log, "loadtest: %d subscribers joined; settling %v, measuring %v\n", len(subs), cfg.Settle, cfg.Duration)

	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(cfg.Settle):
	}
	scrape := newScraper(cfg.MetricsURL)
	before := totals(subs)
	m0, merr := scrape.sample()
	t0 := time.Now()
	peak := 0.0
	tick := time.NewTicker(time.Second)
	deadline := time.After(cfg.Duration)
wait:
	for {
		select {
		case <-ctx.Done():
			tick.Stop()
			return nil, ctx.Err()
		case <-tick.C:
			if m, err := scrape.sample(); err == nil {
				peak = max(peak, m["process_resident_memory_bytes"])
			}
		case <-deadline:
			break wait
		}
	}
	tick.Stop()
	window := time.Since(t0)
	after := totals(subs)
	m1, merr1 := scrape.sample()

	rep := &Report{
		TracksExpected:  cfg.Subscribers * (cfg.VideoPublishers + cfg.AudioPublishers),
		PacketsReceived: after.packets - before.packets,
		BytesReceived:   after.bytes - before.bytes,
		WindowSeconds:   window.Seconds(),
	}
	rep.BitrateBps = float64(rep.BytesReceived) * 8 / window.Seconds()
	var joins []time.Duration
	var delays []time.Duration
	var expected, got uint64
	for _, c := range subs {
		if d := c.JoinToFirstMedia(); d > 0 {
			joins = append(joins, d)
		}
		for _, r := range c.Received() {
			st := r.Stats()
			if st.Packets > 0 {
				rep.TracksReceived++
			}
			expected += st.Expected
			got += st.Packets
			rep.OutOfOrder += r.Late.Load()
			delays = append(delays, st.Delays...)
		}
	}
	if expected > 0 && expected > got {
		rep.PacketLossPct = 100 * float64(expected-got) / float64(expected)
	}
	rep.JoinMsP50, rep.JoinMsP99 = ms(client.Percentile(joins, 50)), ms(client.Percentile(joins, 99))
	rep.DelayMsP50, rep.DelayMsP99 = ms(client.Percentile(delays, 50)), ms(client.Percentile(delays, 99))
	rep.DelaySamples = len(delays)
	rep.LoadCPUSeconds = cpuSeconds() - cpu0
	if merr == nil && merr1 == nil {
		s := &Server{
			CPUSeconds:       m1["process_cpu_seconds_total"] - m0["process_cpu_seconds_total"],
			PacketsForwarded: m1["parley_rtp_packets_forwarded_total"] - m0["parley_rtp_packets_forwarded_total"],
			PeakRSSBytes:     max(peak, m1["process_resident_memory_bytes"]),
			Dropped:          m1["parley_rtp_packets_dropped_total"] - m0["parley_rtp_packets_dropped_total"],
			NACKs:            m1["parley_nack_total"] - m0["parley_nack_total"],
			Retransmits:      m1["parley_rtp_retransmits_total"] - m0["parley_rtp_retransmits_total"],
			PLIs:             m1["parley_pli_total"] - m0["parley_pli_total"],
		}
		s.PacketsPerSecond = s.PacketsForwarded / window.Seconds()
		if s.PacketsForwarded > 0 {
			s.CPUMicrosPerPacket = s.CPUSeconds * 1e6 / s.PacketsForwarded
		}
		rep.Server = s
	}
	if rep.TracksReceived < rep.TracksExpected {
		return rep, fmt.Errorf("%w: %d of %d received", ErrMissingTracks, rep.TracksReceived, rep.TracksExpected)
	}
	return rep, nil
}

type counts struct{ packets, bytes uint64 }

func totals(subs []*client.Client) (c counts) {
	for _, s := range subs {
		for _, r := range s.Received() {
			c.packets += r.Packets.Load()
			c.bytes += r.Bytes.Load()
		}
	}
	return c
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// cpuSeconds is this process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// Table writes the report as a short human-readable table.
func (r *Report) Table(w io.Writer) {
	rows := [][2]string{
		{"tracks received", fmt.Sprintf("%d / %d", r.TracksReceived, r.TracksExpected)},
		{"packets received", fmt.Sprintf("%d in %.1f s", r.PacketsReceived, r.WindowSeconds)},
		{"packet loss", fmt.Sprintf("%.3f %% (%d out of order)", r.PacketLossPct, r.OutOfOrder)},
		{"receive bitrate", fmt.Sprintf("%.2f Mb/s", r.BitrateBps/1e6)},
		{"join → first media", fmt.Sprintf("p50 %.1f ms, p99 %.1f ms", r.JoinMsP50, r.JoinMsP99)},
		{"forwarding delay", fmt.Sprintf("p50 %.2f ms, p99 %.2f ms (%d samples)", r.DelayMsP50, r.DelayMsP99, r.DelaySamples)},
		{"load tool CPU", fmt.Sprintf("%.2f s", r.LoadCPUSeconds)},
	}
	if s := r.Server; s != nil {
		rows = append(rows,
			[2]string{"server forwarded", fmt.Sprintf("%.0f packets/s", s.PacketsPerSecond)},
			[2]string{"server CPU", fmt.Sprintf("%.2f s = %.2f µs per forwarded packet", s.CPUSeconds, s.CPUMicrosPerPacket)},
			[2]string{"server peak RSS", fmt.Sprintf("%.0f MB", s.PeakRSSBytes/1e6)},
			[2]string{"repairs", fmt.Sprintf("%.0f NACKed, %.0f resent, %.0f keyframe requests", s.NACKs, s.Retransmits, s.PLIs)},
		)
	}
	width := 0
	for _, row := range rows {
		width = max(width, len([]rune(row[0])))
	}
	for _, row := range rows {
		fmt.Fprintf(w, "%-*s  %s\n", width, row[0], row[1])
	}
}
