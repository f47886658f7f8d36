// Package client is a Go client of Parley's signalling protocol and media
// (pion peers): the integration tests and `parley loadtest` use it to join
// rooms, publish synthetic or recorded media and measure what arrives.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// ErrServer wraps an "error" message from the server.
var ErrServer = errors.New("server error")

// Message is any server message; fields not in its type are zero.
type Message struct {
	Type string `json:"type"`
	Raw  []byte `json:"-"`

	// error
	Code    int    `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
	Ref     string `json:"ref"`
	// joined
	ParticipantID string        `json:"participant_id"`
	Room          string        `json:"room"`
	ResumeToken   string        `json:"resume_token"`
	Participants  []Participant `json:"participants"`
	Tracks        []TrackInfo   `json:"tracks"`
	Resumed       bool          `json:"resumed"`
	MeetingID     string        `json:"meeting_id"`
	MeetingKey    string        `json:"meeting_key"`
	Role          string        `json:"role"`
	ICEServers    []ICEServer   `json:"ice_servers"`
	// lobby_changed (and joined's lobby, for moderators)
	Waiting []Participant `json:"waiting"`
	Lobby   []Participant `json:"lobby"`
	// moderated
	Action string `json:"action"`
	ByName string `json:"by_name"`
	// room_settings
	Locked bool `json:"locked"`
	// offer / answer
	SDP  string            `json:"sdp"`
	Mids map[string]string `json:"mids"`
	// participant_* / track_* / published
	Participant   *Participant `json:"participant"`
	Track         *TrackInfo   `json:"track"`
	TrackID       string       `json:"track_id"`
	RIDs          []string     `json:"rids"`
	ClientTrackID string       `json:"client_track_id"`
	Reason        string       `json:"reason"`
	// active_speaker
	Speaking []string `json:"speaking"`
	// chat / reaction
	ID    string    `json:"id"`
	Text  string    `json:"text"`
	Time  time.Time `json:"time"`
	Emoji string    `json:"emoji"`
	// pong
	TS float64 `json:"ts"`
}

// Participant as the server describes it.
type Participant struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	HandRaised bool   `json:"hand_raised"`
	Connected  bool   `json:"connected"`
	Role       string `json:"role"`
	Guest      bool   `json:"guest"`
}

// TrackInfo as the server describes a published track.
type TrackInfo struct {
	ID            string   `json:"id"`
	ParticipantID string   `json:"participant_id"`
	Kind          string   `json:"kind"`
	Source        string   `json:"source"`
	Codec         string   `json:"codec"`
	Simulcast     []string `json:"simulcast"`
	Muted         bool     `json:"muted"`
}

// ICEServer is an entry of joined's ice_servers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username"`
	Credential string   `json:"credential"`
}

// Options configures a client.
type Options struct {
	// Interfaces limits ICE gathering; default {"lo"}: tests and load
	// runs never leave the machine.
	Interfaces []string
	// SendOnly joins without receiving media (a load run's publishers).
	SendOnly bool
	// NoReports sends no RTCP receiver reports: a load run's subscribers
	// save the interceptor's per-packet cost (the server then has only
	// REMB, not loss, to estimate their bandwidth).
	NoReports bool
	// AcceptDuplicates turns off SRTP replay protection so that a packet
	// received twice (a retransmission asked for in a test) is seen twice.
	AcceptDuplicates bool
	// Networks limits ICE to these network types (default UDP4), e.g.
	// TCP4 only to test the ICE-TCP fallback.
	Networks []webrtc.NetworkType
	Logger   *slog.Logger
	// KeepMessages keeps every server message for WaitFor (tests). Load
	// runs turn it off to keep memory flat.
	KeepMessages bool
	// HTTP, when set, is the browser whose cookies (a sign-in, a guest
	// identity) the client's REST calls use; by default a fresh one.
	HTTP *HTTP
	// OnMessage, when set, sees every server message (from the read
	// goroutine; it must not block).
	OnMessage func(Message)
	// Net and DialContext, when set, are the network the client uses:
	// pion's sockets and the signalling and REST connections (a
	// namespace of an emulated network, netlab). Interfaces then names
	// that network's devices.
	Net         transport.Net
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// NoRepair turns off what a browser does on a lossy path: NACKs for
	// lost packets received, and retransmission of sent packets the
	// server asks for (the latter from a buffer of the last 512).
	NoRepair bool
	// UseICEServers makes the peer connections when "joined" arrives,
	// with the STUN/TURN servers it gives (the embedded TURN relay);
	// RelayOnly then lets ICE use relayed candidates only.
	UseICEServers, RelayOnly bool
	// TURNRoots, when set, are the certificates a turns: server is
	// checked against (a test's own CA); the TLS is then made here, on
	// the client's network, and handed to ICE.
	TURNRoots *x509.CertPool
	// RTX sends repairs as browsers do: on a separate SSRC and payload
	// type (RFC 4588), naming their simulcast layer in the
	// repaired-rtp-stream-id extension. RTXUnnamed sends them as pion's
	// NACK responder does alone, with the layer's rtp-stream-id (a
	// publisher the server must survive: Peer.onRepairAsMedia).
	RTX, RTXUnnamed bool
}

// turnsDialer opens TURN-over-TLS connections for ICE (pion's proxy
// dialer hook: ICE calls it for TCP TURN URLs and speaks TURN over what
// it returns). The server offers TCP TURN over TLS only.
type turnsDialer struct {
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	roots *x509.CertPool
}

func (d turnsDialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	tc := tls.Client(c, &tls.Config{ServerName: host, RootCAs: d.roots, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

// dialOptions are the WebSocket's options on the client's network.
func (o Options) dialOptions() *websocket.DialOptions {
	if o.DialContext == nil {
		return nil
	}
	return &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: o.DialContext}}}
}

// Client is one participant.
type Client struct {
	opts Options
	*HTTP
	// Role and CreatorToken are what the join endpoint answered.
	Role, CreatorToken string
	ws                 *websocket.Conn
	wsURL              string // the socket's address
	log                *slog.Logger
	api                *webrtc.API
	Pub                *webrtc.PeerConnection
	Sub                *webrtc.PeerConnection

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	writeMu sync.Mutex

	mu         sync.Mutex
	cond       *sync.Cond
	msgs       []Message
	closed     bool
	readErr    error
	id         string
	token      string
	mids       map[string]string    // subscriber mid → track id
	recv       map[string]*Received // by track id
	published  map[string]string    // client track id → server track id
	videos     []*LocalTrack        // published video tracks
	answers    chan Message
	joinSent   time.Time
	firstMedia time.Time
	onTrack    func(*Received)
}

// Connect dials the server's signalling socket. base is the server URL
// (http://host:port); the socket is base + "/ws".
func Connect(ctx context.Context, base string, opts Options) (*Client, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Interfaces == nil {
		opts.Interfaces = []string{"lo"}
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = strings.TrimRight(u.Path, "/") + "/ws"
	ws, _, err := websocket.Dial(ctx, u.String(), opts.dialOptions())
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	ws.SetReadLimit(1 << 20)
	h := opts.HTTP
	if h == nil {
		h = NewHTTP(base)
		if opts.DialContext != nil {
			h.http.Transport = &http.Transport{DialContext: opts.DialContext}
		}
	}
	c := &Client{opts: opts, HTTP: h, ws: ws, wsURL: u.String(), log: opts.Logger, mids: map[string]string{}, recv: map[string]*Received{},
		published: map[string]string{}, answers: make(chan Message, 4)}
	c.cond = sync.NewCond(&c.mu)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.api, err = newAPI(opts); err != nil {
		ws.CloseNow()
		return nil, err
	}
	c.goroutine(c.readLoop)
	return c, nil
}

// mediaEngine registers what browsers offer — Opus, VP8, H.264 — with
// their RTCP feedback; with rtx, an RTX payload type for each video
// codec (RFC 4588), as browsers offer. Without it a client's
// retransmissions go on the media stream, as Firefox's did.
func mediaEngine(rtx bool) (*webrtc.MediaEngine, error) {
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	type codec struct {
		p    webrtc.RTPCodecParameters
		kind webrtc.RTPCodecType
	}
	codecs := []codec{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1", RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}}}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", RTCPFeedback: fb}, PayloadType: 102}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: fb}, PayloadType: 108}, webrtc.RTPCodecTypeVideo},
	}
	if rtx {
		for _, c := range codecs {
			if c.kind == webrtc.RTPCodecTypeVideo {
				codecs = append(codecs, codec{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", c.p.PayloadType)}, PayloadType: c.p.PayloadType + 1}, webrtc.RTPCodecTypeVideo})
			}
		}
	}
	for _, c := range codecs {
		if err := me.RegisterCodec(c.p, c.kind); err != nil {
			return nil, err
		}
	}
	return me, nil
}

// newAPI builds a lean pion API: loopback (or the given interfaces) only,
// no mDNS, and only the interceptors a test client needs — receiver
// reports and NACKs, no TWCC — so a load run spends its CPU on the
// server, not on itself.
func newAPI(opts Options) (*webrtc.API, error) {
	ifaces, networks := opts.Interfaces, opts.Networks
	me, err := mediaEngine(opts.RTX)
	if err != nil {
		return nil, err
	}
	for _, uri := range []string{"urn:ietf:params:rtp-hdrext:sdes:mid", "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: "urn:ietf:params:rtp-hdrext:ssrc-audio-level"}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if !opts.NoReports {
		if err := webrtc.ConfigureRTCPReports(reg); err != nil {
			return nil, err
		}
	}
	if !opts.NoRepair {
		// As a browser: NACK what did not arrive, resend what the server
		// NACKs, on the streams whose codec has nack feedback in both the
		// server's SDP and ours (video and Opus).
		gen, err := nack.NewGeneratorInterceptor()
		if err != nil {
			return nil, err
		}
		resp, err := nack.NewResponderInterceptor()
		if err != nil {
			return nil, err
		}
		if opts.RTX && !opts.RTXUnnamed {
			reg.Add(repairNamerFactory{})
		}
		reg.Add(resp)
		reg.Add(gen)
	}
	se := webrtc.SettingEngine{}
	if opts.Net != nil {
		se.SetNet(opts.Net)
	}
	if opts.TURNRoots != nil {
		dial := opts.DialContext
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		se.SetICEProxyDialer(turnsDialer{dial: dial, roots: opts.TURNRoots})
	}
	if opts.UseICEServers {
		// pion holds a working relayed pair back 2 s in case a direct one
		// answers (doubling a join through TURN: 3.9 s measured); the
		// client takes it as soon as it works.
		se.SetRelayAcceptanceMinWait(0)
	}
	set := map[string]bool{}
	for _, n := range ifaces {
		set[n] = true
	}
	se.SetInterfaceFilter(func(n string) bool { return set[n] })
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.DisableSRTPReplayProtection(opts.AcceptDuplicates)
	if networks == nil {
		networks = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	}
	se.SetNetworkTypes(networks)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// Send writes one message (any JSON-marshalable value).
func (c *Client) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.SendRaw(b)
}

// SendRaw writes raw bytes as one text message (tests of bad input).
func (c *Client) SendRaw(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *Client) readLoop() {
	c.writeMu.Lock()
	ws := c.ws
	c.writeMu.Unlock()
	for {
		_, b, err := ws.Read(c.ctx)
		if err != nil {
			c.writeMu.Lock()
			replaced := c.ws != ws
			c.writeMu.Unlock()
			if replaced {
				return // redial closed it: the new socket has its own loop
			}
			c.mu.Lock()
			c.readErr = err
			c.closed = true
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			c.log.Warn("bad server message", "err", err)
			continue
		}
		m.Raw = b
		c.handle(m)
		if c.opts.OnMessage != nil {
			c.opts.OnMessage(m)
		}
		c.mu.Lock()
		if c.opts.KeepMessages || m.Type == "error" || m.Type == "joined" {
			c.msgs = append(c.msgs, m)
		}
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

func (c *Client) handle(m Message) {
	switch m.Type {
	case "offer":
		c.mu.Lock()
		for mid, id := range m.Mids {
			c.mids[mid] = id
		}
		c.mu.Unlock()
		// Answer from another goroutine: SetRemoteDescription may block on
		// the pion operations queue; the read loop must keep reading.
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := c.answerOffer(m.SDP); err != nil {
				c.log.Warn("answer subscriber offer", "err", err)
			}
		}()
	case "answer":
		select {
		case c.answers <- m:
		default:
		}
	case "published":
		if m.Track != nil {
			c.mu.Lock()
			c.published[m.ClientTrackID] = m.Track.ID
			c.mu.Unlock()
		}
	case "layers":
		c.mu.Lock()
		videos := c.videos
		c.mu.Unlock()
		for _, t := range videos {
			if t.ServerID() == m.TrackID {
				t.setLayers(m.RIDs)
			}
		}
	case "joined":
		if c.opts.UseICEServers && c.Pub == nil {
			// Before the subscriber offer that follows on this socket.
			if err := c.newPeers(m.ICEServers); err != nil {
				c.log.Warn("peer connections", "err", err)
			}
		}
		c.mu.Lock()
		c.id, c.token = m.ParticipantID, m.ResumeToken
		c.mu.Unlock()
	}
}

// WaitFor returns the first message (kept since Connect) matching pred,
// waiting until ctx ends. Needs Options.KeepMessages for most types.
func (c *Client) WaitFor(ctx context.Context, pred func(Message) bool) (Message, error) {
	return c.waitFrom(ctx, 0, pred)
}

// waitFrom is WaitFor over the messages kept from index from on.
func (c *Client) waitFrom(ctx context.Context, from int, pred func(Message) bool) (Message, error) {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := from; ; i++ {
		for ; i < len(c.msgs); i++ {
			if pred(c.msgs[i]) {
				return c.msgs[i], nil
			}
		}
		if c.closed {
			return Message{}, fmt.Errorf("socket closed: %v", c.readErr)
		}
		if ctx.Err() != nil {
			return Message{}, ctx.Err()
		}
		c.cond.Wait()
		i--
	}
}

// Messages returns a copy of the kept messages.
func (c *Client) Messages() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

// ID returns the participant id after join.
func (c *Client) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// ResumeToken returns the token that resumes this session on a new socket.
func (c *Client) ResumeToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// Join joins a room and creates the peer connections.
func (c *Client) Join(ctx context.Context, room, name string) (Message, error) {
	if c.Pub == nil && !c.opts.UseICEServers {
		if err := c.newPeers(nil); err != nil {
			return Message{}, err
		}
	}
	c.mu.Lock()
	c.joinSent = time.Now()
	from := len(c.msgs)
	c.mu.Unlock()
	tok, err := c.JoinToken(ctx, room, name)
	if err != nil {
		return Message{}, err
	}
	if tok.SignalURL != "" && tok.SignalURL != c.wsURL {
		// The room lives on another node: its socket, as the page does.
		if err := c.redial(ctx, tok.SignalURL); err != nil {
			return Message{}, err
		}
		c.mu.Lock()
		from = len(c.msgs)
		c.mu.Unlock()
	}
	join := map[string]any{"type": "join", "token": tok.Token}
	if c.opts.SendOnly {
		join["subscribe"] = false
	}
	if err := c.Send(join); err != nil {
		return Message{}, err
	}
	// A knocker gets "lobby": the caller waits for "joined" (admitted)
	// or "bye" (denied) itself.
	m, err := c.waitFrom(ctx, from, func(m Message) bool { return m.Type == "joined" || m.Type == "lobby" || m.Type == "error" })
	if err != nil {
		return m, err
	}
	if m.Type == "error" {
		return m, fmt.Errorf("%w %d %s: %s", ErrServer, m.Code, m.Name, m.Message)
	}
	if m.Type == "joined" && c.Pub == nil {
		return m, errors.New("joined, but the peer connections could not be made (see the log)")
	}
	return m, nil
}

// JoinAnswer is POST /api/rooms/{id}/join's answer.
type JoinAnswer struct {
	Token        string `json:"token"`
	Role         string `json:"role"`
	Lobby        bool   `json:"lobby"`
	CreatorToken string `json:"creator_token"`
	// SignalURL names the node the room lives on, with several nodes,
	// when it is not the one asked.
	SignalURL string `json:"signal_url"`
}

// JoinToken asks the server for a join token, as the web page does: the
// CSRF token from GET /api/session, then the join request with the
// creator token this client got earlier, if any.
func (c *Client) JoinToken(ctx context.Context, room, name string) (JoinAnswer, error) {
	var a JoinAnswer
	body := map[string]string{"name": name}
	if c.CreatorToken != "" {
		body["creator_token"] = c.CreatorToken
	}
	if err := c.API(ctx, "POST", "/api/rooms/"+url.PathEscape(room)+"/join", body, &a); err != nil {
		return a, err
	}
	c.Role = a.Role
	if a.CreatorToken != "" {
		c.CreatorToken = a.CreatorToken
	}
	return a, nil
}

func (c *Client) newPeers(servers []ICEServer) error {
	cfg := webrtc.Configuration{BundlePolicy: webrtc.BundlePolicyMaxBundle}
	for _, s := range servers {
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	if c.opts.RelayOnly {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	var err error
	if c.Pub, err = c.api.NewPeerConnection(cfg); err != nil {
		return err
	}
	if c.Sub, err = c.api.NewPeerConnection(cfg); err != nil {
		return err
	}
	c.Sub.OnTrack(c.onRemoteTrack)
	return nil
}

func (c *Client) answerOffer(sdp string) error {
	if err := c.Sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return err
	}
	ans, err := c.Sub.CreateAnswer(nil)
	if err != nil {
		return err
	}
	// Candidates go inside the SDP (loopback gathering is instant), so
	// none can overtake the description they belong to.
	gathered := webrtc.GatheringCompletePromise(c.Sub)
	if err := c.Sub.SetLocalDescription(ans); err != nil {
		return err
	}
	<-gathered
	return c.Send(map[string]string{"type": "answer", "sdp": c.Sub.LocalDescription().SDP})
}

// Negotiate sends a publisher offer and applies the server's answer.
func (c *Client) Negotiate(ctx context.Context) error {
	offer, err := c.Pub.CreateOffer(nil)
	if err != nil {
		return err
	}
	return c.negotiateOffer(ctx, offer)
}

func (c *Client) negotiateOffer(ctx context.Context, offer webrtc.SessionDescription) error {
	gathered := webrtc.GatheringCompletePromise(c.Pub)
	if err := c.Pub.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	for len(c.answers) > 0 {
		<-c.answers
	}
	if err := c.Send(map[string]string{"type": "offer", "sdp": c.Pub.LocalDescription().SDP}); err != nil {
		return err
	}
	select {
	case m := <-c.answers:
		return c.Pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
	case <-ctx.Done():
		return fmt.Errorf("no answer: %w", ctx.Err())
	}
}

// ServerTrackID returns the server's id for one of our published tracks.
func (c *Client) ServerTrackID(clientID string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.published[clientID]
}

// Close leaves (when joined) and tears everything down.
func (c *Client) Close() error {
	c.mu.Lock()
	joined := c.id != ""
	c.mu.Unlock()
	if joined && c.Send(map[string]string{"type": "leave"}) == nil {
		// Wait for the server to close the socket after its bye: closing
		// first could reset the connection (unread data in our receive
		// buffer) and lose the leave, and the server would then wait for
		// its peer timeout before telling the others.
		t := time.AfterFunc(2*time.Second, func() {
			c.mu.Lock()
			c.cond.Broadcast()
			c.mu.Unlock()
		})
		deadline := time.Now().Add(2 * time.Second)
		c.mu.Lock()
		for !c.closed && time.Now().Before(deadline) {
			c.cond.Wait()
		}
		c.mu.Unlock()
		t.Stop()
	}
	return c.Drop()
}

// Drop closes everything without leaving, as a crashed client would.
func (c *Client) Drop() error {
	c.ws.CloseNow()
	c.cancel()
	var errs []error
	if c.Pub != nil {
		errs = append(errs, c.Pub.Close())
	}
	if c.Sub != nil {
		errs = append(errs, c.Sub.Close())
	}
	c.wg.Wait()
	return errors.Join(errs...)
}

// DropSocket closes only the signalling socket, as a network blip would;
// the peer connections stay up.
func (c *Client) DropSocket() {
	c.ws.CloseNow()
}

// SocketURL is the signalling socket's address (another node's, with
// several nodes, when the room lives there).
func (c *Client) SocketURL() string {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.wsURL
}

// redial replaces the signalling socket by one to wsURL.
func (c *Client) redial(ctx context.Context, wsURL string) error {
	c.ws.CloseNow()
	ws, _, err := websocket.Dial(ctx, wsURL, c.opts.dialOptions())
	if err != nil {
		return fmt.Errorf("dial %s: %w", wsURL, err)
	}
	ws.SetReadLimit(1 << 20)
	c.writeMu.Lock()
	c.ws, c.wsURL = ws, wsURL
	c.writeMu.Unlock()
	c.mu.Lock()
	c.closed = false
	c.mu.Unlock()
	c.goroutine(c.readLoop)
	return nil
}

// Reconnect opens a new signalling socket and resumes the session with
// the resume token; media connections are kept.
func (c *Client) Reconnect(ctx context.Context, base string) (Message, error) {
	u, err := url.Parse(base)
	if err != nil {
		return Message{}, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = strings.TrimRight(u.Path, "/") + "/ws"
	c.mu.Lock()
	from := len(c.msgs)
	token := c.token
	c.mu.Unlock()
	if err := c.redial(ctx, u.String()); err != nil {
		return Message{}, err
	}
	if err := c.Send(map[string]string{"type": "join", "resume_token": token}); err != nil {
		return Message{}, err
	}
	m, err := c.waitFrom(ctx, from, func(m Message) bool { return m.Type == "joined" || m.Type == "error" })
	if err == nil && m.Type == "error" {
		err = fmt.Errorf("%w %d %s: %s", ErrServer, m.Code, m.Name, m.Message)
	}
	return m, err
}

// RestartICE restarts ICE on both connections: a publisher offer with new
// credentials, and a request that the server re-offer the subscriber side.
func (c *Client) RestartICE(ctx context.Context) error {
	if err := c.Send(map[string]string{"type": "ice_restart"}); err != nil {
		return err
	}
	if c.Pub.RemoteDescription() == nil {
		return nil // nothing published yet: no publisher connection to restart
	}
	offer, err := c.Pub.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		return err
	}
	return c.negotiateOffer(ctx, offer)
}
