package server

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/loadtest"
)

// TestLoadtestSmoke is the smoke run: 1 video + 1 audio
// publisher, 5 subscribers, 5 s, no track missing.
func TestLoadtestSmoke(t *testing.T) {
	srv := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := loadtest.Run(ctx, loadtest.Config{URL: srv.URL(), VideoPublishers: 1, AudioPublishers: 1, Subscribers: 5,
		Duration: 5 * time.Second, Settle: time.Second}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if rep.TracksExpected != 10 || rep.TracksReceived != 10 {
		t.Fatalf("tracks %d/%d, want 10/10", rep.TracksReceived, rep.TracksExpected)
	}
	if rep.PacketsReceived == 0 || rep.BitrateBps < 1e6 || rep.DelaySamples == 0 || rep.JoinMsP50 <= 0 {
		t.Fatalf("implausible report: %+v", rep)
	}
	if rep.Server == nil || rep.Server.PacketsForwarded < float64(rep.PacketsReceived)/2 || rep.Server.CPUMicrosPerPacket <= 0 {
		t.Fatalf("server figures missing: %+v", rep.Server)
	}
	b, _ := json.Marshal(rep)
	var keys map[string]any
	json.Unmarshal(b, &keys)
	for _, k := range []string{"tracks_expected", "tracks_received", "packets_received", "packet_loss_pct", "bitrate_bps",
		"join_ms_p50", "join_ms_p99", "delay_ms_p50", "delay_ms_p99"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON report lacks %s", k)
		}
	}
	t.Logf("loss %.3f%%, %.1f Mb/s, join p50 %.1f ms, delay p50 %.2f ms p99 %.2f ms, server %.1f µs/packet",
		rep.PacketLossPct, rep.BitrateBps/1e6, rep.JoinMsP50, rep.DelayMsP50, rep.DelayMsP99, rep.Server.CPUMicrosPerPacket)
}
