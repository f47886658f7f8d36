package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/loadtest"
	"github.com/parleyhq/parley/internal/testkit/netlab"
	"github.com/parleyhq/parley/internal/testkit/tlscert"
)

// netbenchConfig is one run of the network benchmark.
type netbenchConfig struct {
	Subscribers, Publishers netlab.Preset
	Load                    loadtest.Config
	// Outage cuts every subscriber's link this long, this far into the
	// measurement window (0: none).
	Outage, OutageAt time.Duration
}

// netbenchReport is the load report plus what the links did.
type netbenchReport struct {
	Subscribers string           `json:"subscribers_network"`
	Publishers  string           `json:"publishers_network"`
	Load        *loadtest.Report `json:"load"`
	// Link counters summed over each side's links.
	SubscriberLinks linkCounts `json:"subscriber_links"`
	PublisherLinks  linkCounts `json:"publisher_links"`
	// TURNAllocations: relays the server's TURN made (tcp443 runs).
	TURNAllocations int64 `json:"turn_allocations"`
}

type linkCounts struct {
	UpPackets   uint64 `json:"up_packets"`
	UpLost      uint64 `json:"up_lost"`
	DownPackets uint64 `json:"down_packets"`
	DownLost    uint64 `json:"down_lost"`
	OutageDrops uint64 `json:"outage_drops"`
	Filtered    uint64 `json:"filtered"`
}

func (c *linkCounts) add(k *netlab.Link) {
	u, d := k.Up.Counts(), k.Down.Counts()
	c.UpPackets += u.Packets
	c.UpLost += u.Lost
	c.DownPackets += d.Packets
	c.DownLost += d.Lost
	c.OutageDrops += u.OutageDrops + d.OutageDrops
	c.Filtered += u.Filtered + d.Filtered
}

func runNetbench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("netbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names []string
	for _, p := range netlab.Presets {
		names = append(names, p.Name)
	}
	var cfg netbenchConfig
	subNet := fs.String("network", "loss2", "subscribers' network: "+strings.Join(names, ", "))
	pubNet := fs.String("publishers-network", "", "publishers' network (default: the subscribers')")
	fs.IntVar(&cfg.Load.VideoPublishers, "video-publishers", 1, "participants publishing simulcast video")
	fs.IntVar(&cfg.Load.AudioPublishers, "audio-publishers", 1, "participants publishing Opus audio")
	fs.IntVar(&cfg.Load.Subscribers, "subscribers", 4, "participants receiving every track, each on a link of its own")
	fs.StringVar(&cfg.Load.Layer, "layer", "high", "simulcast layer subscribers ask for: high, medium or low")
	fs.DurationVar(&cfg.Load.Duration, "duration", 20*time.Second, "measurement window")
	fs.DurationVar(&cfg.Load.Settle, "settle", 3*time.Second, "wait after the last join before measuring")
	fs.BoolVar(&cfg.Load.NoRepair, "no-repair", false, "clients neither NACK nor resend (to see what repair does)")
	repair := fs.String("publishers-repair", "media", "how publishers resend what the server asks for: media (on the media stream, as Firefox's did), rtx (an RTX stream naming its layer, as browsers do), rtx-unnamed (RTX carrying the layer's own stream id, as pion's responder does alone)")
	fs.DurationVar(&cfg.Outage, "outage", 0, "cut every subscriber's link this long during the window (e.g. 2s)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	if err := parseNoArgs(fs, args, stderr); err != nil {
		return err
	}
	var ok bool
	if cfg.Subscribers, ok = netlab.PresetByName(*subNet); !ok {
		fmt.Fprintf(stderr, "unknown network %q (known: %s)\n", *subNet, strings.Join(names, ", "))
		return errUsage
	}
	switch *repair {
	case "media":
	case "rtx", "rtx-unnamed":
		cfg.Load.PublisherRepair = *repair
	default:
		fmt.Fprintf(stderr, "unknown --publishers-repair %q (known: media, rtx, rtx-unnamed)\n", *repair)
		return errUsage
	}
	cfg.Publishers = cfg.Subscribers
	if *pubNet != "" {
		if cfg.Publishers, ok = netlab.PresetByName(*pubNet); !ok {
			fmt.Fprintf(stderr, "unknown network %q (known: %s)\n", *pubNet, strings.Join(names, ", "))
			return errUsage
		}
	}
	cfg.OutageAt = cfg.Load.Duration / 3
	ctx, cancel := context.WithTimeout(ctx, cfg.Load.Settle+cfg.Load.Duration+2*time.Minute)
	defer cancel()
	rep, err := netbench(ctx, cfg, stderr)
	if rep != nil {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		} else {
			fmt.Fprintf(stdout, "subscribers' network  %s (%s)\npublishers' network   %s (%s)\n", cfg.Subscribers.Name, cfg.Subscribers.About, cfg.Publishers.Name, cfg.Publishers.About)
			rep.Load.Table(stdout)
			for _, s := range []struct {
				who string
				c   linkCounts
			}{{"subscribers' links", rep.SubscriberLinks}, {"publishers' links", rep.PublisherLinks}} {
				fmt.Fprintf(stdout, "%s: up %d packets, %d lost; down %d packets, %d lost; %d in outages, %d filtered\n",
					s.who, s.c.UpPackets, s.c.UpLost, s.c.DownPackets, s.c.DownLost, s.c.OutageDrops, s.c.Filtered)
			}
			if rep.TURNAllocations > 0 {
				fmt.Fprintf(stdout, "TURN relays made    %d (TURN over TLS on %s)\n", rep.TURNAllocations, "port 443 of the second address")
			}
		}
	}
	return err
}

// netbench starts a server on an emulated network's host side, puts each
// load client in a namespace of its own behind an impaired link, and
// runs the load.
func netbench(ctx context.Context, cfg netbenchConfig, log io.Writer) (*netbenchReport, error) {
	lab, err := netlab.New()
	if err != nil {
		return nil, err
	}
	defer lab.Close()

	sc := config.Default()
	sc.Listen = lab.ServerIP + ":443" // what a locked-down network still lets through
	sc.Media.UDPPort, sc.Media.ListenIP = 0, lab.ServerIP
	sc.Media.TCPPort = 0
	sc.Media.ICEInterfaces = []string{lab.Iface}
	sc.MetricsListen = "127.0.0.1:0"
	sc.Speech.Engine = "none"
	dir, err := os.MkdirTemp("", "parley-netbench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sc.DataDir = dir
	var turnRoots *x509.CertPool
	if cfg.Subscribers.Up.OnlyTCP443 || cfg.Publishers.Up.OnlyTCP443 {
		// As a locked-down deployment: signalling on 443 of one address,
		// TURN over TLS on 443 of another, media through TURN.
		sc.Media.TURNIP, sc.Media.TURNTLSPort = lab.SecondIP, 443
		if sc.Media.TURNCert, sc.Media.TURNKey, turnRoots, err = tlscert.Write(dir, lab.SecondIP); err != nil {
			return nil, err
		}
	}
	srv, err := server.New(sc, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()

	links := map[string][]*netlab.Link{}
	place := func(role string, p netlab.Preset) (client.Options, error) {
		k, err := lab.AddLink(p.Up, p.Down)
		if err != nil {
			return client.Options{}, err
		}
		links[role] = append(links[role], k)
		n, err := k.NS.Net()
		if err != nil {
			return client.Options{}, err
		}
		return client.Options{Interfaces: []string{netlab.GuestIface}, Net: n, DialContext: k.NS.DialContext,
			UseICEServers: turnRoots != nil, TURNRoots: turnRoots}, nil
	}
	// Links are made before the run (namespaces take a moment each).
	opts := map[string][]client.Options{}
	for role, n := range map[string]int{"publisher": cfg.Load.VideoPublishers + cfg.Load.AudioPublishers, "subscriber": cfg.Load.Subscribers} {
		p := cfg.Subscribers
		if role == "publisher" {
			p = cfg.Publishers
		}
		for range n {
			o, err := place(role, p)
			if err != nil {
				return nil, err
			}
			opts[role] = append(opts[role], o)
		}
	}
	load := cfg.Load
	load.URL = srv.URL()
	load.MetricsURL = "http://" + srv.MetricsAddr()
	load.Room = "network-bench-room"
	load.Network = func(role string, i int) client.Options { return opts[role][i] }
	if cfg.Outage > 0 {
		go func() {
			// Joins, settle, then into the window.
			select {
			case <-ctx.Done():
				return
			case <-time.After(load.Settle + cfg.OutageAt + 2*time.Second):
			}
			for _, k := range links["subscriber"] {
				k.Outage(cfg.Outage)
			}
		}()
	}
	lr, err := loadtest.Run(ctx, load, log)
	rep := &netbenchReport{Subscribers: cfg.Subscribers.Name, Publishers: cfg.Publishers.Name, Load: lr,
		TURNAllocations: srv.SFU.TURNAllocations()}
	for _, k := range links["subscriber"] {
		rep.SubscriberLinks.add(k)
	}
	for _, k := range links["publisher"] {
		rep.PublisherLinks.add(k)
	}
	if lr == nil {
		return nil, err
	}
	return rep, err
}
