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
// clients that do not see the loss of both hops.
func TestLossyLinksAreRepaired(t *testing.T) {
	run1 := func(extra ...string) (loss, nacks, resent float64) {
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
		return rep.Load.Loss, rep.Load.Server.NACKs, rep.Load.Server.Resent
	}
	bare, _, _ := run1("--no-repair")
	repaired, nacks, resent := run1()
	t.Logf("receivers' loss: %.2f %% without repair, %.2f %% with (%.0f NACKed, %.0f resent by the server)", bare, repaired, nacks, resent)
	if bare < 2.5 {
		t.Errorf("without repair the receivers lost %.2f %%: want about 4 %% (two hops of 2 %%)", bare)
	}
	if repaired > 1.8 || nacks == 0 || resent == 0 {
		t.Errorf("with repair the receivers lost %.2f %% (%.0f NACKed, %.0f resent): want under 1.8 %%, repairs made", repaired, nacks, resent)
	}
}
