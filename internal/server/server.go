// Package server owns one Parley process: it builds every part from the
// configuration (metrics, SFU, rooms, signalling, HTTP), starts them, and
// shuts them down in order.
package server

import (
	"sync"
	"sync/atomic"

	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/parleyhq/parley/internal/cascade"
	"github.com/parleyhq/parley/internal/cluster"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/httpapi"
	"github.com/parleyhq/parley/internal/jobs"
	"github.com/parleyhq/parley/internal/record"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/speech"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/web"
)

// Server is a running Parley.
type Server struct {
	cfg      config.Config
	log      *slog.Logger
	Registry *prometheus.Registry
	SFU      *sfu.SFU
	Rooms    *room.Manager
	Store    *store.DB
	Engine   asr.Engine      // nil when --asr-engine none
	final    asr.Engine      // --final-asr-engine; nil when not set
	Speech   *speech.Service // live transcription; nil when --asr-engine none
	*jobParts
	jobsStop context.CancelFunc
	jobsDone chan struct{}
	Recorder *record.Recorder // nil with --recordings off
	signal   *signal.Server
	cluster  atomic.Pointer[cluster.Cluster] // with --nats, once started
	// Cascading, with --nats: home relays this node's rooms to the
	// edges that ask; edges feeds the edge rooms here (room id →
	// *cascade.Edge); edgeRooms are the rooms admitted as edges, until
	// they close.
	home      *cascade.Home
	edges     sync.Map
	edgeRooms sync.Map
	http      *http.Server
	ln        net.Listener
	metrics   *http.Server // nil when --metrics-listen is empty
	metricsL  net.Listener
	serveErr  chan error
}

// New builds a server from a validated configuration; nothing listens
// for HTTP until Start.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s := &Server{cfg: cfg, log: log, Registry: reg, serveErr: make(chan error, 1)}
	// The embedded client first: it holds no resource to release on a
	// later failure.
	client, err := web.New(web.Options{Logger: log.With("part", "web")})
	if err != nil {
		return nil, fmt.Errorf("web client: %w", err)
	}
	turnOpts, err := turnOptions(cfg)
	if err != nil {
		return nil, err
	}
	s.SFU, err = sfu.New(sfu.Options{
		UDPPort:    cfg.Media.UDPPort,
		TCPPort:    cfg.Media.TCPPort,
		ListenIP:   cfg.Media.ListenIP,
		NATIP:      cfg.Media.NATIP,
		Interfaces: cfg.Media.ICEInterfaces,
		ICEServers: cfg.Media.ICEServers,
		TURN:       turnOpts,
		NoAudioRED: cfg.Media.NoAudioRED,
		Limits: sfu.Limits{Publications: cfg.Limits.MaxTracks, Candidates: cfg.Limits.MaxCandidates,
			MediaSections: cfg.Limits.MaxMediaSections},
		Logger:  log.With("part", "sfu"),
		Metrics: sfu.NewMetrics(reg),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	s.Store, err = openStore(ctx, cfg)
	cancel()
	if err != nil {
		s.SFU.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	authSvc, err := newAuth(cfg, s.Store, log.With("part", "auth"))
	if err != nil {
		s.SFU.Close()
		s.Store.Close()
		return nil, err
	}
	if s.Engine, err = newEngine(cfg.Speech); err != nil {
		s.SFU.Close()
		s.Store.Close()
		return nil, fmt.Errorf("speech engine: %w", err)
	}
	if s.final, err = newFinalEngine(cfg.Speech); err != nil {
		s.SFU.Close()
		s.Store.Close()
		if s.Engine != nil {
			s.Engine.Close()
		}
		return nil, fmt.Errorf("final speech engine: %w", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	keys, err := loadKeys(ctx, cfg, s.Store)
	cancel()
	if err != nil {
		s.SFU.Close()
		s.Store.Close()
		return nil, err
	}
	spoolDir := filepath.Join(cfg.DataDir, "spool")
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	parts, err := newJobParts(ctx, cfg, s.Store, s.Engine, log)
	cancel()
	if err != nil {
		s.SFU.Close()
		s.Store.Close()
		if s.Engine != nil {
			s.Engine.Close()
		}
		if s.final != nil {
			s.final.Close()
		}
		return nil, err
	}
	s.jobParts = parts
	s.deleter.SpoolDir = spoolDir
	if s.recordings != nil {
		s.Recorder, s.retention.Recordings = s.newRecording(s.recordings, log.With("part", "record"))
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	if n, err := jobs.CleanSpool(ctx, spoolDir, s.Store.Jobs); err != nil {
		log.Warn("spool clean-up", "err", err)
	} else if n > 0 {
		log.Info("removed spool files no job needs (left by a crash)", "files", n)
	}
	cancel()
	reg.MustRegister(jobsCollector{s.Store})
	ropts := room.Options{SFU: s.SFU, PeerTimeout: cfg.Media.PeerTimeout, Logger: log.With("part", "room"), Registerer: reg,
		Keeper:   &keeper{st: s.Store, log: log.With("part", "access")},
		MaxRooms: cfg.Limits.MaxRooms, MaxParticipantsTotal: cfg.Limits.MaxParticipants}
	if s.Engine != nil {
		s.Speech, err = speech.NewService(speech.LiveConfig{Engine: s.Engine, Store: s.Store,
			SpoolDir: spoolDir, Logger: log.With("part", "speech"), Registerer: reg,
			Finisher: &jobs.Finisher{Store: s.Store, Node: s.node, Wake: s.Jobs.Wake, Summaries: s.summaries, Logger: log.With("part", "jobs")}})
		if err != nil {
			s.SFU.Close()
			s.Engine.Close()
			s.Store.Close()
			return nil, err
		}
		ropts.Speech = s.Speech
		if s.retention.Recordings != nil {
			s.retention.Recordings.LiveBusy = s.Speech.Busy
		}
	}
	if s.Recorder != nil {
		ropts.Recorder = recorder{s.Recorder, s.Store}
	}
	ropts.Closed, ropts.Continued, ropts.Opened, ropts.Transcribed = s.roomClosed, s.continuedMeeting, s.meetingOpened, s.meetingTranscribed
	s.Rooms = room.NewManager(ropts)
	var origins []string
	for _, a := range []string{cfg.PublicURL, cfg.SiteURL} {
		if u, err := url.Parse(a); err == nil && a != "" {
			origins = append(origins, u.Host)
		}
	}
	s.signal = signal.NewServer(s.Rooms, signal.Options{Logger: log.With("part", "signal"), Origins: origins, Registerer: reg,
		JoinTimeout: cfg.Limits.JoinTimeout, Rate: cfg.Limits.MessageRate, Burst: cfg.Limits.MessageBurst, Keys: keys, Admit: s.admit,
		PeerOrigins: s.peerHosts})
	proxies, err := config.ParsePrefixes(cfg.TrustedProxies)
	if err != nil { // Validate has checked them
		return nil, err
	}
	l := cfg.Limits
	handler := httpapi.New(httpapi.Options{
		Rooms:        s.Rooms,
		Transcripts:  s.Store,
		Signal:       s.signal,
		Gatherer:     reg,
		MetricsToken: cfg.MetricsToken,
		Registerer:   reg,
		PublicURL:    cfg.Site(),
		NodeURL:      cfg.PublicURL,
		Limits: httpapi.AddrLimits{Sockets: l.IPSockets, JoinsPerSecond: l.IPJoinsPerSecond, JoinBurst: l.IPJoinBurst,
			RoomsPerMinute: l.IPRoomsPerMinute, RoomBurst: l.IPRoomBurst, TrustedProxies: proxies},
		WriteTimeout: l.HTTPWriteTimeout,
		Logger:       log.With("part", "http"),
		Ready:        func() bool { return !s.Rooms.Draining() },
		Place:        s.placeJoin,
		Peers:        s.peerSockets,
		Web:          client,
		Auth:         authSvc,
		Store:        s.Store,
		Keys:         keys,
		Uploads:      s.uploadOptions(filepath.Join(cfg.DataDir, "uploads"), cfg.UploadMax),
		Recordings:   s.recordings,
		Summaries:    summaries(s.summaries),
		DeleteMeeting: func(ctx context.Context, id string, by store.AuditEntry) error {
			_, err := s.deleter.Delete(ctx, id, by)
			return err
		},
	})
	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	// The timeouts bound what a connection holds (a goroutine and its
	// buffers) when the client is slow or gone: 10 s to send the headers
	// (slowloris), 30 s for a whole request (every body the API takes is
	// under a kilobyte), 30 s without progress writing a response (see
	// httpapi's progressWriter: a long download that keeps moving is not
	// cut), 120 s for an idle keep-alive connection (browsers reuse one
	// for about that long). A signalling socket is hijacked out of the
	// server, which clears its deadlines; it has its own pings and write
	// timeout. Headers stop at 64 KiB rather than 1 MiB: a browser sends
	// a few kilobytes, cookies included.
	s.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: l.HTTPReadTimeout,
		WriteTimeout: l.HTTPWriteTimeout, IdleTimeout: l.HTTPIdleTimeout, MaxHeaderBytes: 64 << 10, ErrorLog: errorLog}
	if cfg.MetricsListen != "" {
		s.metrics = &http.Server{Handler: httpapi.Internal(reg), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errorLog}
	}
	return s, nil
}

// Start listens on the configured addresses and serves in the
// background.
func (s *Server) Start() error {
	if s.metrics != nil {
		ml, err := net.Listen("tcp", s.cfg.MetricsListen)
		if err != nil {
			s.SFU.Close()
			return fmt.Errorf("metrics-listen: %w", err)
		}
		s.metricsL = ml
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		if s.metricsL != nil {
			s.metricsL.Close()
		}
		s.SFU.Close()
		return err
	}
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			ln.Close()
			if s.metricsL != nil {
				s.metricsL.Close()
			}
			s.SFU.Close()
			return fmt.Errorf("tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	s.ln = ln
	err = s.joinCluster()
	if err == nil {
		err = s.ringBell(s.cfg, "parley node "+s.node)
	}
	if err != nil {
		if c := s.cluster.Load(); c != nil {
			c.Close()
		}
		ln.Close()
		if s.metricsL != nil {
			s.metricsL.Close()
		}
		s.SFU.Close()
		return fmt.Errorf("nats: %w", err)
	}
	jctx, stop := context.WithCancel(context.Background())
	s.jobsStop, s.jobsDone = stop, make(chan struct{})
	go func() {
		s.run(jctx)
		close(s.jobsDone)
	}()
	go func() { s.serveErr <- s.http.Serve(ln) }()
	if s.metrics != nil {
		go s.metrics.Serve(s.metricsL)
	}
	s.log.Info("parley serving", "url", s.URL(), "metrics", s.MetricsAddr(), "media_udp", fmt.Sprint(s.SFU.UDPAddrs()))
	return nil
}

// Addr returns the HTTP listen address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// MetricsAddr returns the metrics listener's address ("" when it is off).
func (s *Server) MetricsAddr() string {
	if s.metricsL == nil {
		return ""
	}
	return s.metricsL.Addr().String()
}

// URL returns the base URL clients use.
func (s *Server) URL() string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if s.cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + s.Addr()
}

// Done returns a channel that yields the HTTP server's error if it stops
// on its own.
func (s *Server) Done() <-chan error { return s.serveErr }

// Drain, with several nodes, stops taking new rooms here and waits until
// the meetings here have ended or ctx ends (--drain-wait); Shutdown then
// hands over what is left. Without nodes it returns at once.
func (s *Server) Drain(ctx context.Context) {
	c := s.cluster.Load()
	if c == nil {
		return
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := c.Drain(dctx)
	cancel()
	if err != nil {
		s.log.Warn("not marked draining in the registry", "err", err)
	}
	for {
		if rooms, _ := s.Rooms.Stats(); rooms == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Shutdown drains the server: no new joins, every participant told and
// disconnected, HTTP closed, media ports released. With several nodes
// each meeting is handed over to another node first, and its
// participants told to join it again there. It returns when all is
// closed or ctx expires (then it closes what remains forcibly).
func (s *Server) Shutdown(ctx context.Context) error {
	c := s.cluster.Load()
	if c == nil {
		s.Rooms.Shutdown()
	} else {
		// No new rooms here; bounded, for NATS may be down.
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c.Drain(dctx)
		cancel()
		s.Rooms.Handover(func(roomID string) bool {
			if r, ok := s.Rooms.Room(roomID); ok && r.Edge() {
				return true // its people join again through another edge or the home node
			}
			hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			n, err := c.Handover(hctx, roomID)
			if err != nil {
				s.log.Warn("meeting not handed over: it ends here", "room", roomID, "err", err)
				return false
			}
			s.log.Info("meeting handed over", "room", roomID, "to", n.ID)
			return true
		})
	}
	var errs []error
	if err := s.signal.Wait(ctx); err != nil {
		errs = append(errs, fmt.Errorf("signalling sessions: %w", err))
	}
	if s.home != nil {
		s.home.Stop()
	}
	if c != nil {
		c.Close() // gone from the registry: its rooms move on their next join
	}
	if err := s.http.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
		s.http.Close()
	}
	if s.metrics != nil {
		s.metrics.Close()
	}
	// Ended meetings finish their last utterances and their shared
	// microphones' diarization before the SFU (which waits for their
	// taps), the engine and the store close. Each meeting bounds its own
	// recognition (30 s), so this wait is not cut short by ctx: a
	// transcript is not given up to shut down a little sooner.
	if s.Speech != nil {
		errs = append(errs, s.Speech.Close(context.Background()))
	}
	if s.Recorder != nil {
		// Rooms have ended, so have their recordings; this waits for
		// their files to be closed.
		errs = append(errs, s.Recorder.Close(ctx))
	}
	// Jobs in progress go back to the queue (they run again at the next
	// start); the queue is in the store, which closes after them.
	if s.jobsStop != nil {
		s.jobsStop()
		<-s.jobsDone
	}
	s.bell.Close()
	errs = append(errs, s.SFU.Close())
	if s.Engine != nil {
		errs = append(errs, s.Engine.Close())
	}
	if s.final != nil {
		errs = append(errs, s.final.Close())
	}
	errs = append(errs, s.Store.Close())
	return errors.Join(errs...)
}

// summaries is the summary queue as the HTTP API sees it: nil (no
// summaries) without --llm-url.
func summaries(s *jobs.Summaries) httpapi.Summaries {
	if s == nil {
		return nil
	}
	return s
}
