// Package config holds the one typed configuration of `parley serve` and
// loads it in a fixed order: built-in defaults, then an optional JSON file
// (unknown keys rejected), then PARLEY_* environment variables, then
// command-line flags, then Validate. Nothing here is global: two servers
// with two configs can run in one test process.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("invalid configuration")

// Config is everything `parley serve` needs. Each field's `name` tag gives
// its JSON key, its environment variable (PARLEY_ + upper-cased name with
// '-' and '.' as '_') and its flag (--name); `help` is the flag's usage.
type Config struct {
	Listen  string `name:"listen" help:"HTTP listen address (host:port; port 0 picks one)"`
	DataDir string `name:"data-dir" help:"directory for the database and recordings"`
	// Several nodes: NATS servers to coordinate through (with --postgres,
	// which they share), this node's id and its own public URL.
	NATS      []string `name:"nats" help:"NATS servers (nats://host:port, comma separated) that nodes coordinate through; needs --postgres and --public-url (empty: one node)"`
	NATSCreds string   `name:"nats-creds" help:"NATS credentials file (JWT and NKey seed) for --nats"`
	NATSNKey  string   `name:"nats-nkey" help:"NATS NKey seed file for --nats (instead of --nats-creds)"`
	NodeID    string   `name:"node-id" help:"this node's name among the nodes (letters, digits, '-', '_'; default: the host name)"`
	// Jobs says which background jobs this node runs: "all" (default),
	// or "local", only those tied to it (whose files are on its disk),
	// leaving the others to `parley worker` processes.
	Jobs   string `name:"jobs" help:"background jobs this node runs: all, or local (only those whose files are on this node; parley worker runs the rest)"`
	worker bool   // validated as `parley worker`'s (ValidateWorker)
	// Postgres, when set, keeps the store in PostgreSQL instead of SQLite
	// under DataDir (which still holds recordings and uploads).
	Postgres string `name:"postgres" env:"PARLEY_POSTGRES_URL" help:"PostgreSQL database for the store, e.g. postgres://parley@db.internal/parley (empty: SQLite in --data-dir; the URL may carry a password: prefer the environment variable)"`
	// RetainTranscripts deletes meetings (transcript, grants, files) this
	// long after they started; 0 keeps them. A room's owner may set the
	// room's own number of days.
	UploadQuota       int64         `name:"upload-quota" help:"bytes of uploaded recordings one signed-in user may keep (oidc mode; 0 = no quota; default 20 GiB)"`
	UploadMax         int64         `name:"upload-max" help:"largest recording one may upload to transcribe, in bytes (default 2 GiB)"`
	RetainTranscripts time.Duration `name:"retain-transcripts" help:"delete a meeting's transcript and files this long after it started, e.g. 720h for 30 days (0 = keep; a room's owner may set their room's own)"`
	// Recordings is where meetings' recordings go (default
	// <data-dir>/recordings); "off" disables recording.
	Recordings string `name:"recordings" help:"directory for meeting recordings (default <data-dir>/recordings; off = moderators cannot record)"`
	// An S3-compatible bucket, when set, keeps the recordings instead of
	// the recordings directory: nodes that share it share them.
	S3Endpoint       string        `name:"s3-endpoint" help:"S3-compatible server for recordings, host:port (empty: recordings on local disk)"`
	S3Bucket         string        `name:"s3-bucket" help:"bucket for recordings on --s3-endpoint (it must exist)"`
	S3Region         string        `name:"s3-region" help:"region of --s3-bucket (default us-east-1)"`
	S3Insecure       bool          `name:"s3-insecure" help:"speak plain HTTP to --s3-endpoint (a server on loopback or a private network only)"`
	S3AccessKey      string        `name:"s3-access-key" env:"PARLEY_S3_ACCESS_KEY" flag:"-" help:"access key for --s3-endpoint"`
	S3SecretKey      string        `name:"s3-secret-key" env:"PARLEY_S3_SECRET_KEY" flag:"-" help:"secret key for --s3-endpoint"`
	RetainRecordings time.Duration `name:"retain-recordings" help:"delete a meeting's recording files this long after it started, e.g. 168h (0 = keep; --retain-transcripts deletes them too)"`
	PublicURL        string        `name:"public-url" help:"URL users reach Parley at, e.g. https://meet.example.org (default: from --listen); with --site-url, this node's own address"`
	// SiteURL, with several nodes behind one address (a load balancer),
	// is the address users open; PublicURL is then each node's own,
	// where browsers open its signalling socket.
	SiteURL  string `name:"site-url" help:"with --nats, the one address users open when a load balancer spreads it over the nodes, e.g. https://meet.example.org (each node keeps its own --public-url for its signalling socket)"`
	TLSCert  string `name:"tls-cert" help:"TLS certificate file (PEM); serve HTTPS when set with --tls-key"`
	TLSKey   string `name:"tls-key" help:"TLS private key file (PEM)"`
	LogLevel string `name:"log-level" help:"debug, info, warn or error"`
	// MetricsListen serves /metrics and Go's pprof profiles apart from
	// the public listener: profiles reveal code paths and load, metrics
	// the number of meetings, and neither is for the people in them.
	MetricsListen string `name:"metrics-listen" help:"address for /metrics and /debug/pprof (empty = off; keep it on loopback or a private network)"`
	// MetricsToken, when set, also serves /metrics on the public listener
	// to requests that carry it as a bearer token.
	MetricsToken string `name:"metrics-token" help:"serve /metrics on the public listener too, to 'Authorization: Bearer <token>' (16 characters or more; prefer the environment variable over the flag)"`
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed when counting requests per address.
	TrustedProxies []string `name:"trusted-proxies" help:"addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client, comma separated (empty: the TCP peer is the client)"`

	// An OpenAI-compatible chat-completions server the organisation runs
	// writes each meeting's summary; without one, nothing is summarised
	// and nothing is sent anywhere.
	LLMURL   string `name:"llm-url" help:"base URL of an OpenAI-compatible chat-completions server that writes meeting summaries, e.g. http://llm.internal:8000 (empty: no summaries)"`
	LLMModel string `name:"llm-model" help:"model name for --llm-url"`
	LLMKey   string `name:"llm-key" help:"API key for --llm-url (prefer the environment variable PARLEY_LLM_KEY)"`

	Media  Media  `name:"media"`
	Speech Speech `name:"speech"`
	Limits Limits `name:"limits"`

	// Auth is how people are identified: open (no sign-in) or oidc;
	// empty means oidc when an issuer is set (see AuthMode).
	Auth string `name:"auth" help:"open (no sign-in; anyone may create a room) or oidc (users sign in with an OpenID provider); default: oidc when --oidc-issuer is set"`
	OIDC OIDC   `name:"oidc"`

	// ShutdownTimeout bounds graceful shutdown on SIGTERM.
	ShutdownTimeout time.Duration `name:"shutdown-timeout" help:"how long SIGTERM waits for participants to be told and connections closed"`
	// DrainWait, with several nodes, is how long SIGTERM lets the
	// meetings here go on (no new room comes) before handing them over.
	DrainWait time.Duration `name:"drain-wait" help:"with --nats, how long SIGTERM lets this node's meetings go on (no new room comes here) before handing them over to other nodes; those that end meanwhile are not moved (0: at once)"`
}

// Media configures WebRTC transport. Flags and environment variables for
// these drop the "media." prefix (--udp-port, PARLEY_UDP_PORT).
type Media struct {
	UDPPort int `name:"udp-port" help:"the one UDP port for all media (ICE UDP mux); 0 picks one"`
	TCPPort int `name:"tcp-port" help:"ICE-TCP fallback port for networks that block UDP; -1 disables"`
	// ListenIP is the address the media sockets bind to.
	ListenIP      string   `name:"media-ip" help:"address the media ports bind to"`
	NATIP         string   `name:"nat-ip" help:"public address of a 1:1 NAT in front of this host, announced in ICE candidates"`
	ICEInterfaces []string `name:"ice-interfaces" help:"network interfaces to gather ICE candidates on, comma separated (lo = loopback only; empty = all)"`
	ICEServers    []string `name:"ice-servers" help:"STUN/TURN URLs the operator runs, given to clients (none by default: Parley contacts no third party)"`
	// The embedded TURN relay, for networks that let only TCP 443 out.
	TURNUDPPort int           `name:"turn-udp-port" help:"serve TURN over UDP on this port (0 = off), relaying only to this server's media ports"`
	TURNTLSPort int           `name:"turn-tls-port" help:"serve TURN over TLS on this port, typically 443 on an address HTTPS does not use (0 = off; needs --tls-cert)"`
	TURNIP      string        `name:"turn-ip" help:"address the TURN ports bind to (default: --media-ip); TURN on 443 needs an address HTTPS does not hold"`
	TURNCert    string        `name:"turn-tls-cert" help:"certificate (PEM) of TURN over TLS (default: --tls-cert)"`
	TURNKey     string        `name:"turn-tls-key" help:"its private key (default: --tls-key)"`
	TURNHost    string        `name:"turn-host" help:"name in the TURN URLs given to clients (default: --public-url's host, else the certificate's first name, else the media address)"`
	TURNSecret  string        `name:"turn-secret" help:"key of the TURN credentials' HMAC, the same on every node (default: random per start; prefer the environment variable)"`
	TURNTTL     time.Duration `name:"turn-credential-ttl" help:"how long a participant's TURN credentials stay valid (bounds a meeting's length through TURN)"`
	// NoAudioRED: subscribers get Opus alone, not RED (each packet
	// carrying the two frames before it, to recover lost ones).
	NoAudioRED bool `name:"no-audio-red" help:"send subscribers audio without RED redundancy (saves about 60 kb/s per audio track on each subscriber's link; lost packets are then concealed)"`
	// PeerTimeout is how long a participant whose media connection died
	// stays in the room before it is removed and others are told.
	PeerTimeout time.Duration `name:"peer-timeout" help:"remove a participant whose connection is lost for this long"`
}

// Speech configures live captions and transcripts. Flags and environment
// variables drop the "speech." prefix (--asr-engine, PARLEY_ASR_ENGINE).
type Speech struct {
	Engine   string `name:"asr-engine" help:"speech recogniser: pocketsphinx (embedded, English), openai (an OpenAI-compatible server you run), or none"`
	Language string `name:"asr-language" help:"language of the speech (ISO 639-1); pocketsphinx knows only en"`
	// OpenAI-compatible server (whisper.cpp, faster-whisper, vLLM, …).
	OpenAIURL   string `name:"openai-url" help:"base URL of an OpenAI-compatible transcription server, e.g. http://gpu1:8000"`
	OpenAIModel string `name:"openai-model" help:"model name the server knows, e.g. whisper-1"`
	OpenAIKey   string `name:"openai-key" help:"API key for that server (prefer the environment variable over the flag)"`
	// Streams bounds the utterances recognised at once.
	Streams int `name:"asr-streams" help:"utterances recognised at once (pocketsphinx decoders, ~90 MB each; openai requests in flight)"`
	// Final is a second, better recogniser for recorded meetings: once a
	// recording stops, its microphones are transcribed again and replace
	// the live segments (kept as a revision).
	FinalEngine      string `name:"final-asr-engine" help:"recogniser for a second pass over recorded meetings once their recording stops: openai or pocketsphinx (empty: none); the live segments are kept as a revision"`
	FinalOpenAIURL   string `name:"final-openai-url" help:"base URL of the OpenAI-compatible server of --final-asr-engine openai"`
	FinalOpenAIModel string `name:"final-openai-model" help:"model name for --final-asr-engine openai, e.g. whisper-large-v3"`
	FinalOpenAIKey   string `name:"final-openai-key" help:"API key for that server (prefer the environment variable)"`
}

// Limits bound what one client may make the server do or hold. Flags and
// environment variables drop the "limits." prefix (--join-timeout).
type Limits struct {
	JoinTimeout  time.Duration `name:"join-timeout" help:"close a signalling socket that has not joined a room within this"`
	MessageRate  float64       `name:"message-rate" help:"signalling messages one socket may send per second (any type); more are dropped"`
	MessageBurst int           `name:"message-burst" help:"signalling messages one socket may send at once above the rate"`

	// Per participant.
	MaxTracks        int `name:"max-tracks" help:"tracks one participant may have announced (published or still to come)"`
	MaxCandidates    int `name:"max-candidates" help:"remote ICE candidates per peer connection of one participant (the server sends STUN checks to no more addresses)"`
	MaxMediaSections int `name:"max-media-sections" help:"media sections (m-lines) in one offer"`

	// Per client address (an IPv6 address counts by its /64).
	IPSockets        int     `name:"ip-sockets" help:"signalling sockets open at once from one address (0 = no limit)"`
	IPJoinsPerSecond float64 `name:"ip-joins-per-second" help:"room look-ups and join requests per second from one address (0 = no limit)"`
	IPJoinBurst      int     `name:"ip-join-burst" help:"room look-ups and join requests one address may make at once above the rate"`
	IPRoomsPerMinute float64 `name:"ip-rooms-per-minute" help:"rooms one address may create per minute (0 = no limit)"`
	IPRoomBurst      int     `name:"ip-room-burst" help:"rooms one address may create at once above the rate"`

	// Server-wide caps.
	MaxRooms        int `name:"max-rooms" help:"rooms in progress at once on this server"`
	MaxParticipants int `name:"max-participants" help:"participants in all rooms at once on this server"`

	// HTTP connection timeouts (the signalling socket, once upgraded, has
	// its own pings and write timeout instead).
	HTTPReadTimeout  time.Duration `name:"http-read-timeout" help:"time to read one HTTP request, headers and body"`
	HTTPWriteTimeout time.Duration `name:"http-write-timeout" help:"close an HTTP response that makes no progress writing for this long"`
	HTTPIdleTimeout  time.Duration `name:"http-idle-timeout" help:"close a keep-alive HTTP connection idle for this long"`
}

// Default returns the embedded defaults: everything on one machine, no
// external service.
func Default() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		DataDir:         "data",
		UploadMax:       2 << 30,
		UploadQuota:     20 << 30,
		LogLevel:        "info",
		MetricsListen:   "127.0.0.1:9464",
		ShutdownTimeout: 10 * time.Second,
		Media: Media{
			UDPPort:     7881,
			TCPPort:     7881,
			ListenIP:    "0.0.0.0",
			PeerTimeout: 20 * time.Second,
			TURNTTL:     12 * time.Hour,
		},
		Speech: Speech{Engine: "pocketsphinx", Language: "en", Streams: 4},
		Limits: Limits{JoinTimeout: 10 * time.Second, MessageRate: 50, MessageBurst: 200,
			MaxTracks: 16, MaxCandidates: 64, MaxMediaSections: 32,
			IPSockets: 50, IPJoinsPerSecond: 5, IPJoinBurst: 20, IPRoomsPerMinute: 10, IPRoomBurst: 10,
			MaxRooms: 1000, MaxParticipants: 5000,
			HTTPReadTimeout: 30 * time.Second, HTTPWriteTimeout: 30 * time.Second, HTTPIdleTimeout: 120 * time.Second},
		OIDC: OIDC{Scopes: []string{"openid", "profile", "email"}, SessionTTL: 12 * time.Hour},
	}
}

// Site is the address users open: --site-url, else --public-url ("" when
// neither is set: the request's own).
func (c *Config) Site() string {
	if c.SiteURL != "" {
		return strings.TrimRight(c.SiteURL, "/")
	}
	return c.PublicURL
}

// ValidateWorker is Validate for `parley worker`: it shares the nodes'
// store, so --postgres is required, and serves no browser, so --nats
// needs no --public-url.
func (c *Config) ValidateWorker() error {
	w := *c
	w.worker = true
	err := w.Validate()
	if c.Postgres == "" {
		err = errors.Join(err, fmt.Errorf("%w: a worker shares the nodes' store: set --postgres (or PARLEY_POSTGRES_URL)", ErrInvalid))
	}
	return err
}

// Validate checks every field and returns all problems at once.
func (c *Config) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen %q: %v", c.Listen, err)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("metrics-listen %q: %v", c.MetricsListen, err)
		}
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		bad("metrics-token: at least 16 characters")
	}
	if _, err := ParsePrefixes(c.TrustedProxies); err != nil {
		bad("trusted-proxies: %v", err)
	}
	if c.UploadQuota < 0 {
		bad("upload-quota must be 0 (none) or positive")
	}
	if c.UploadMax < 1 {
		bad("upload-max must be positive")
	}
	if c.RetainRecordings < 0 {
		bad("retain-recordings must be 0 (keep) or positive")
	}
	if c.LLMURL != "" {
		if u, err := url.Parse(c.LLMURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("llm-url %q: want http(s)://host[:port]", c.LLMURL)
		}
		if c.LLMModel == "" {
			bad("llm-model is required with --llm-url")
		}
	} else if c.LLMModel != "" || c.LLMKey != "" {
		bad("llm-model and llm-key need --llm-url")
	}
	if c.RetainTranscripts < 0 {
		bad("retain-transcripts must be 0 (keep) or positive")
	}
	if c.DataDir == "" {
		bad("data-dir must not be empty")
	}
	if c.Jobs != "" && c.Jobs != "all" && c.Jobs != "local" {
		bad("jobs %q: all or local", c.Jobs)
	}
	if len(c.NATS) > 0 {
		for _, u := range c.NATS {
			if !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
				bad("nats: %q is not a nats:// or tls:// URL", u)
			}
		}
		if c.Postgres == "" {
			bad("nats needs --postgres: nodes share their rooms, meetings and keys through it")
		}
		if c.PublicURL == "" && !c.worker {
			bad("nats needs --public-url: the address other nodes send browsers to")
		}
		if c.NodeID != "" && !validNodeID(c.NodeID) {
			bad("node-id %q: letters, digits, '-' and '_', at most 64", c.NodeID)
		}
		if c.NATSCreds != "" && c.NATSNKey != "" {
			bad("nats-creds and nats-nkey: one or the other")
		}
	} else if c.NATSCreds != "" || c.NATSNKey != "" {
		bad("nats-creds and nats-nkey need --nats")
	}
	if c.S3Endpoint != "" {
		if strings.Contains(c.S3Endpoint, "/") {
			bad("s3-endpoint %q: want host:port, no scheme (--s3-insecure for plain HTTP)", c.S3Endpoint)
		}
		if c.S3Bucket == "" || c.S3AccessKey == "" || c.S3SecretKey == "" {
			bad("s3-endpoint needs --s3-bucket, PARLEY_S3_ACCESS_KEY and PARLEY_S3_SECRET_KEY")
		}
	} else if c.S3Bucket != "" {
		bad("s3-bucket needs --s3-endpoint")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("public-url %q: want http(s)://host[:port]", c.PublicURL)
		}
	}
	if c.SiteURL != "" {
		u, err := url.Parse(c.SiteURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" && u.Path != "/" {
			bad("site-url %q: want http(s)://host[:port]", c.SiteURL)
		}
		if len(c.NATS) == 0 {
			bad("site-url needs --nats: it is the address several nodes share")
		}
	}
	errs = append(errs, c.Limits.problems()...)
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls-cert and tls-key go together")
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown-timeout must be positive")
	}
	if c.DrainWait < 0 {
		bad("drain-wait must be 0 or positive")
	}
	m := &c.Media
	if m.UDPPort < 0 || m.UDPPort > 65535 {
		bad("udp-port %d out of range", m.UDPPort)
	}
	if m.TCPPort < -1 || m.TCPPort > 65535 {
		bad("tcp-port %d out of range (-1 disables)", m.TCPPort)
	}
	if net.ParseIP(m.ListenIP) == nil {
		bad("media-ip %q is not an IP address", m.ListenIP)
	}
	if m.NATIP != "" && net.ParseIP(m.NATIP) == nil {
		bad("nat-ip %q is not an IP address", m.NATIP)
	}
	for _, s := range m.ICEServers {
		if !strings.HasPrefix(s, "stun:") && !strings.HasPrefix(s, "turn:") && !strings.HasPrefix(s, "turns:") {
			bad("ice-servers: %q is not a stun:, turn: or turns: URL", s)
		}
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"turn-udp-port", m.TURNUDPPort}, {"turn-tls-port", m.TURNTLSPort}} {
		if p.v < 0 || p.v > 65535 {
			bad("%s %d out of range (0 = off)", p.name, p.v)
		}
	}
	if m.TURNTLSPort > 0 && c.TLSCert == "" && m.TURNCert == "" {
		bad("turn-tls-port needs a certificate: --tls-cert and --tls-key, or --turn-tls-cert and --turn-tls-key")
	}
	if (m.TURNCert == "") != (m.TURNKey == "") {
		bad("turn-tls-cert and turn-tls-key go together")
	}
	if m.TURNIP != "" && net.ParseIP(m.TURNIP) == nil {
		bad("turn-ip %q is not an IP address", m.TURNIP)
	}
	if (m.TURNUDPPort > 0 || m.TURNTLSPort > 0) && m.TURNTTL < time.Minute {
		bad("turn-credential-ttl %v: at least 1m", m.TURNTTL)
	}
	if m.PeerTimeout < time.Second {
		bad("peer-timeout %v: at least 1s", m.PeerTimeout)
	}
	errs = append(errs, c.Speech.problems()...)
	errs = append(errs, c.authProblems()...)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

func (l Limits) problems() []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if l.JoinTimeout <= 0 || l.MessageRate <= 0 || l.MessageBurst < 1 {
		bad("join-timeout, message-rate and message-burst must be positive")
	}
	if l.IPSockets < 0 || l.IPJoinsPerSecond < 0 || l.IPRoomsPerMinute < 0 {
		bad("ip-sockets, ip-joins-per-second and ip-rooms-per-minute must be 0 (no limit) or positive")
	}
	if (l.IPJoinsPerSecond > 0 && l.IPJoinBurst < 1) || (l.IPRoomsPerMinute > 0 && l.IPRoomBurst < 1) {
		bad("ip-join-burst and ip-room-burst must be at least 1")
	}
	if l.MaxTracks < 1 || l.MaxCandidates < 1 || l.MaxMediaSections < 1 {
		bad("max-tracks, max-candidates and max-media-sections must be positive")
	}
	if l.MaxRooms < 1 || l.MaxParticipants < 1 {
		bad("max-rooms and max-participants must be positive")
	}
	if l.HTTPReadTimeout < time.Second || l.HTTPWriteTimeout < time.Second || l.HTTPIdleTimeout < time.Second {
		bad("http-read-timeout, http-write-timeout and http-idle-timeout: at least 1s")
	}
	return errs
}

// ParsePrefixes parses addresses and CIDRs ("10.0.0.1", "10.0.0.0/8",
// "fd00::/8"); a bare address is a prefix of its full length.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Validate checks the speech settings alone, with the rules Config.Validate
// applies to them: `parley transcribe` takes the same settings and must
// word a problem the same way as `parley serve`.
func (s Speech) Validate() error {
	if errs := s.problems(); len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

func (s Speech) problems() []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	switch s.Engine {
	case "none":
	case "pocketsphinx":
		if s.Language != "en" {
			bad("asr-language %q: the pocketsphinx engine is English only (use openai for other languages)", s.Language)
		}
	case "openai":
		if u, err := url.Parse(s.OpenAIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("openai-url %q: want http(s)://host[:port]", s.OpenAIURL)
		}
		if s.OpenAIModel == "" {
			bad("openai-model is required with --asr-engine openai")
		}
	default:
		bad("asr-engine %q: want pocketsphinx, openai or none", s.Engine)
	}
	switch s.FinalEngine {
	case "", "pocketsphinx":
	case "openai":
		if u, err := url.Parse(s.FinalOpenAIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("final-openai-url %q: want http(s)://host[:port]", s.FinalOpenAIURL)
		}
		if s.FinalOpenAIModel == "" {
			bad("final-openai-model is required with --final-asr-engine openai")
		}
	default:
		bad("final-asr-engine %q: want openai, pocketsphinx or empty", s.FinalEngine)
	}
	if s.Streams < 1 || s.Streams > 256 {
		bad("asr-streams %d: 1 to 256", s.Streams)
	}
	return errs
}

func validNodeID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
