package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestLossyLinksAreRepaired runs `parley netbench` over links losing 2 %
// each way with 100 ms of round trip and jitter (every participant in a
// network namespace of its own; needs root, as CI runs): clients that
// NACK and resend like browsers get back most of what the links lost;
// clients that do not see the loss of both hops; publishers that resend
// on RTX streams (as browsers do) are repaired as well.
func TestLossyLinksAreRepaired(t *testing.T) {
	run1 := func(extra ...string) (loss, nacks, resent float64, packets uint64) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		args := append([]string{"netbench", "--json", "--network", "loss2", "--subscribers", "2", "--duration", "6s", "--settle", "2s"}, extra...)
		var out, errb bytes.Buffer
		if code := run(ctx, args, &out, &errb); code != 0 {
			t.Fatalf("netbench %v: exit %d\n%s\n%s", extra, code, out.String(), errb.String())
		}
		var rep struct {
			Load struct {
				Expected int     `json:"tracks_expected"`
				Received int     `json:"tracks_received"`
				Loss     float64 `json:"packet_loss_pct"`
				Packets  uint64  `json:"packets_received"`
				Server   struct {
					NACKs  float64 `json:"nacks"`
					Resent float64 `json:"retransmits"`
				} `json:"server"`
			} `json:"load"`
			Links struct {
				DownLost uint64 `json:"down_lost"`
			} `json:"subscriber_links"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		if rep.Load.Received != rep.Load.Expected || rep.Links.DownLost == 0 {
			t.Fatalf("netbench %v: %d of %d tracks, %d lost on the subscribers' links: %s", extra, rep.Load.Received, rep.Load.Expected, rep.Links.DownLost, out.String())
		}
		return rep.Load.Loss, rep.Load.Server.NACKs, rep.Load.Server.Resent, rep.Load.Packets
	}
	bare, _, _, _ := run1("--no-repair")
	repaired, nacks, resent, packets := run1()
	t.Logf("receivers' loss: %.2f %% without repair, %.2f %% with (%.0f NACKed, %.0f resent by the server)", bare, repaired, nacks, resent)
	if bare < 2.5 {
		t.Errorf("without repair the receivers lost %.2f %%: want about 4 %% (two hops of 2 %%)", bare)
	}
	if repaired > 1.0 || nacks == 0 || resent == 0 {
		t.Errorf("with repair the receivers lost %.2f %% (%.0f NACKed, %.0f resent): want under 1 %% (audio and video repaired), repairs made", repaired, nacks, resent)
	}
	// Publishers resending on RTX streams, as browsers do: the server
	// reads the repairs of each simulcast layer (pion clients with RTX
	// once stalled it: 0 packets forwarded, 150 000 NACKs in 10 s).
	rtx, nacks, resent, rtxPackets := run1("--publishers-repair", "rtx")
	t.Logf("publishers resending on RTX: receivers lost %.2f %% (%.0f NACKed, %.0f resent), received %d packets (%d without RTX)", rtx, nacks, resent, rtxPackets, packets)
	if rtx > 1.0 || nacks == 0 || rtxPackets < packets*9/10 {
		t.Errorf("publishers resending on RTX: receivers lost %.2f %% (%.0f NACKed) and received %d packets: want under 1 %% and as many as without RTX (%d)", rtx, nacks, rtxPackets, packets)
	}
}

// TestOnlyTCP443JoinsThroughTURN: participants whose network lets
// nothing through but TCP to port 443 join and exchange audio and video
// through the embedded TURN server over TLS (needs root, as CI runs).
func TestOnlyTCP443JoinsThroughTURN(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	args := []string{"netbench", "--json", "--network", "tcp443", "--subscribers", "2", "--duration", "4s", "--settle", "2s"}
	if code := run(ctx, args, &out, &errb); code != 0 {
		t.Fatalf("netbench: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	var rep struct {
		Load struct {
			Expected int     `json:"tracks_expected"`
			Received int     `json:"tracks_received"`
			Packets  int     `json:"packets_received"`
			JoinP99  float64 `json:"join_ms_p99"`
		} `json:"load"`
		Subs  struct{ Filtered uint64 } `json:"subscriber_links"`
		Pubs  struct{ Filtered uint64 } `json:"publisher_links"`
		Relay int64                     `json:"turn_allocations"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	t.Logf("%d of %d tracks, %d packets, join to first media p99 %.0f ms, %d TURN relays, %d+%d packets filtered",
		rep.Load.Received, rep.Load.Expected, rep.Load.Packets, rep.Load.JoinP99, rep.Relay, rep.Subs.Filtered, rep.Pubs.Filtered)
	if rep.Load.Expected != 4 || rep.Load.Received != 4 || rep.Load.Packets < 500 {
		t.Errorf("%d of %d tracks, %d packets: want audio and video to both subscribers", rep.Load.Received, rep.Load.Expected, rep.Load.Packets)
	}
	if rep.Relay < 4 {
		t.Errorf("%d TURN relays: want one per connection of each of the 4 participants at least", rep.Relay)
	}
	if rep.Subs.Filtered == 0 || rep.Pubs.Filtered == 0 {
		t.Error("the links filtered nothing: UDP was not blocked, the test proves nothing")
	}
}
