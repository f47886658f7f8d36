package client

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Received accounts for one track arriving on the subscriber connection.
type Received struct {
	TrackID string // the server's track id
	Kind    string
	Codec   string
	Remote  *webrtc.TrackRemote

	Packets atomic.Uint64
	Bytes   atomic.Uint64
	// Late counts packets older than the newest one seen: reordering and
	// retransmissions.
	Late atomic.Uint64

	mu        sync.Mutex
	first     time.Time
	last      time.Time
	baseSeq   uint32
	maxSeq    uint32 // extended (wrap-counted) highest sequence number
	started   bool
	delays    []time.Duration // sampled forwarding delays
	nDelay    int
	keyframes int
}

// maxDelaySamples bounds memory: a reservoir of the most recent samples.
const maxDelaySamples = 20000

func (c *Client) onRemoteTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	id := remote.ID()
	c.mu.Lock()
	for _, tr := range c.Sub.GetTransceivers() {
		if tr.Receiver() == recv {
			if x, ok := c.mids[tr.Mid()]; ok {
				id = x
			}
		}
	}
	r := &Received{TrackID: id, Kind: remote.Kind().String(), Codec: strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(remote.Codec().MimeType, "video/"), "audio/")), Remote: remote}
	c.recv[id] = r
	cb := c.onTrack
	c.mu.Unlock()
	if cb != nil {
		cb(r)
	}
	c.goroutine(func() { c.readTrack(r, recv) })
}

// OnTrack sets a function called for each newly received track (before
// its first packet is read). Set it before Join.
func (c *Client) OnTrack(fn func(*Received)) {
	c.mu.Lock()
	c.onTrack = fn
	c.mu.Unlock()
}

func (c *Client) readTrack(r *Received, recv *webrtc.RTPReceiver) {
	buf := make([]byte, 1500)
	for {
		n, _, err := r.Remote.Read(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		now := time.Now()
		// Parse only what accounting needs: the sequence number and the
		// payload offset (fixed header, CSRCs, extension).
		seq := uint16(buf[2])<<8 | uint16(buf[3])
		off := 12 + 4*int(buf[0]&0x0f)
		if buf[0]&0x10 != 0 && n >= off+4 {
			off += 4 + 4*(int(buf[off+2])<<8|int(buf[off+3]))
		}
		r.Packets.Add(1)
		r.Bytes.Add(uint64(n))
		r.mu.Lock()
		if !r.started {
			r.started, r.first = true, now
			r.baseSeq, r.maxSeq = uint32(seq), uint32(seq)
			c.mu.Lock()
			if c.firstMedia.IsZero() {
				c.firstMedia = now
			}
			c.mu.Unlock()
		} else {
			cur := uint16(r.maxSeq)
			if diff := int16(seq - cur); diff > 0 {
				r.maxSeq += uint32(diff)
			} else {
				r.Late.Add(1)
			}
		}
		r.last = now
		if off < n {
			if sent, ok := readStamp(buf[off:n], r.Codec); ok {
				r.nDelay++
				d := now.Sub(sent)
				if len(r.delays) < maxDelaySamples {
					r.delays = append(r.delays, d)
				} else {
					r.delays[r.nDelay%maxDelaySamples] = d
				}
			}
		}
		r.mu.Unlock()
	}
}

// Stats is a snapshot of a received track.
type Stats struct {
	Packets, Bytes uint64
	Expected       uint64 // from sequence numbers
	First, Last    time.Time
	Delays         []time.Duration
}

// Stats returns the track's counters so far.
func (r *Received) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Packets: r.Packets.Load(), Bytes: r.Bytes.Load(), First: r.first, Last: r.last,
		Delays: append([]time.Duration(nil), r.delays...)}
	if r.started {
		s.Expected = uint64(r.maxSeq-r.baseSeq) + 1
	}
	return s
}

// Received returns the tracks received so far, by server track id.
func (c *Client) Received() map[string]*Received {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]*Received, len(c.recv))
	for k, v := range c.recv {
		out[k] = v
	}
	return out
}

// JoinToFirstMedia returns the time from sending join to the first media
// packet received (0 if none yet).
func (c *Client) JoinToFirstMedia() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.firstMedia.IsZero() {
		return 0
	}
	return c.firstMedia.Sub(c.joinSent)
}

// Percentile returns the p-th percentile (0-100) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// SendREMB reports a receive bandwidth estimate for a received track, as
// a browser's receive-side estimator does (RTCP REMB).
func (c *Client) SendREMB(trackID string, bps float32) error {
	c.mu.Lock()
	r, ok := c.recv[trackID]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("track %s not received", trackID)
	}
	return c.Sub.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: bps, SSRCs: []uint32{uint32(r.Remote.SSRC())}}})
}

// SendLossReport sends a receiver report about a received track saying
// that of the packets up to extSeq (extended sequence number), lost were
// never received: what a congested subscriber's browser reports. Use it
// with Options.NoReports, or the interceptor's own reports interleave.
func (c *Client) SendLossReport(trackID string, extSeq, lost uint32) error {
	c.mu.Lock()
	r, ok := c.recv[trackID]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("track %s not received", trackID)
	}
	return c.Sub.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{
		{SSRC: uint32(r.Remote.SSRC()), LastSequenceNumber: extSeq, TotalLost: lost}}}})
}

// SendNACK asks for retransmission of one received packet (RFC 4585 generic NACK).
func (c *Client) SendNACK(trackID string, seq uint16) error {
	c.mu.Lock()
	r, ok := c.recv[trackID]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("track %s not received", trackID)
	}
	return c.Sub.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: uint32(r.Remote.SSRC()),
		Nacks: []rtcp.NackPair{{PacketID: seq}}}})
}

// LastSeq returns the newest sequence number received on a track.
func (r *Received) LastSeq() uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return uint16(r.maxSeq)
}
