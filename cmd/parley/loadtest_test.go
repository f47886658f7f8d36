package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/testkit/leak"
)

// TestLoadtestSmoke runs `parley loadtest --json` against a server (one
// simulcast video publisher, one audio publisher, three subscribers, 3 s)
// once per layer and checks the report the way a user reads it: every
// track arrived, nothing was lost, each subscriber received the bitrate of
// the layer it asked for, joins and forwarding took some time, the
// server's figures are there.
func TestLoadtestSmoke(t *testing.T) {
	before := leak.Take()
	cfg := config.Default()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.Media.UDPPort, cfg.Media.TCPPort, cfg.Media.ListenIP = 0, -1, "127.0.0.1"
	cfg.Media.ICEInterfaces = []string{"lo"}
	cfg.Speech.Engine = "none"
	cfg.MetricsListen = "127.0.0.1:0"
	srv, err := server.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		before.Check(t, 5*time.Second)
	})

	const subscribers, publishers = 3, 2
	// What each subscriber should receive, in bits per second of RTP
	// packets (headers included): the synthetic video layer (the load
	// client's defaults: 150k, 500k, 1.5M) plus the audio track (80-byte
	// payloads + 12-byte header, 50 per second: 36.8k). The band is
	// -20 %/+25 % of that; the three bands do not overlap, so a subscriber
	// served the wrong layer falls outside its own.
	const audio = 92 * 8 * 50
	video := map[string]float64{"low": 150e3, "medium": 500e3, "high": 1.5e6}
	for _, layer := range []string{"low", "medium", "high"} {
		t.Run(layer, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var out, errb bytes.Buffer
			args := []string{"loadtest", "--json", "--url", srv.URL(), "--metrics-url", "http://" + srv.MetricsAddr(), "--room", "smoke-test-" + layer, "--layer", layer,
				"--video-publishers", "1", "--audio-publishers", "1", "--subscribers", "3", "--duration", "3s", "--settle", "1s"}
			if code := run(ctx, args, &out, &errb); code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
			}
			var rep struct {
				TracksExpected int     `json:"tracks_expected"`
				TracksReceived int     `json:"tracks_received"`
				Packets        int     `json:"packets_received"`
				LossPct        float64 `json:"packet_loss_pct"`
				OutOfOrder     int     `json:"packets_out_of_order"`
				Bitrate        float64 `json:"bitrate_bps"`
				JoinP50        float64 `json:"join_ms_p50"`
				JoinP99        float64 `json:"join_ms_p99"`
				DelayP50       float64 `json:"delay_ms_p50"`
				DelayP99       float64 `json:"delay_ms_p99"`
				Window         float64 `json:"window_seconds"`
				Server         *struct {
					Forwarded float64 `json:"packets_forwarded"`
					CPUPerPkt float64 `json:"cpu_us_per_forwarded_packet"`
					PeakRSS   float64 `json:"peak_rss_bytes"`
					Dropped   float64 `json:"packets_dropped"`
				} `json:"server"`
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			t.Logf("tracks %d/%d, loss %.3f %%, %.0f kb/s per subscriber, join p50 %.1f ms, delay p50 %.2f ms",
				rep.TracksReceived, rep.TracksExpected, rep.LossPct, rep.Bitrate/subscribers/1e3, rep.JoinP50, rep.DelayP50)
			if rep.TracksExpected != subscribers*publishers || rep.TracksReceived != rep.TracksExpected {
				t.Errorf("tracks %d of %d, want %d of %d", rep.TracksReceived, rep.TracksExpected, subscribers*publishers, subscribers*publishers)
			}
			if rep.Packets == 0 || rep.LossPct != 0 || rep.OutOfOrder != 0 {
				t.Errorf("%d packets, %.3f %% lost, %d out of order on loopback", rep.Packets, rep.LossPct, rep.OutOfOrder)
			}
			if rep.Window < 3 {
				t.Errorf("measured over %.2f s, asked for 3 s", rep.Window)
			}
			want := video[layer] + audio
			if per := rep.Bitrate / subscribers; !(per >= 0.8*want && per <= 1.25*want) {
				t.Errorf("layer %s: %.0f kb/s per subscriber, want %.0f-%.0f", layer, per/1e3, 0.8*want/1e3, 1.25*want/1e3)
			}
			if !(rep.JoinP50 > 0 && rep.JoinP99 >= rep.JoinP50) || !(rep.DelayP50 > 0 && rep.DelayP99 >= rep.DelayP50) {
				t.Errorf("join p50 %.1f p99 %.1f ms, delay p50 %.2f p99 %.2f ms: want positive and ordered",
					rep.JoinP50, rep.JoinP99, rep.DelayP50, rep.DelayP99)
			}
			s := rep.Server
			if s == nil {
				t.Fatal("no server figures")
			}
			// The server's counters are read a moment apart from the
			// clients': forwarded and received differ by a few packets.
			if s.Forwarded < 0.9*float64(rep.Packets) || s.CPUPerPkt <= 0 || s.PeakRSS <= 0 || s.Dropped != 0 {
				t.Errorf("server forwarded %.0f packets for %d received, %.2f µs per packet, peak RSS %.0f B, dropped %.0f",
					s.Forwarded, rep.Packets, s.CPUPerPkt, s.PeakRSS, s.Dropped)
			}
		})
	}
}
