package sfu

import (
	"fmt"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Payload types follow Chrome's numbering, which keeps SDP diffs readable.
const (
	ptOpus      = 111
	ptVP8       = 96
	ptVP8RTX    = 97
	ptH264      = 102
	ptH264RTX   = 103
	ptH264CB    = 108 // constrained baseline 42e01f
	ptH264CBRTX = 109
)

// opusFmtp negotiates in-band FEC (RFC 7587 §6.1 useinbandfec) so a lost
// packet can be recovered from the next one, and DTX (usedtx) so a silent
// participant sends ~1 packet per 400 ms instead of 50 per second.
const opusFmtp = "minptime=10;useinbandfec=1;usedtx=1"

// side tells which peer connection a media engine serves: the
// participant's publisher connection (we receive) or subscriber
// connection (we send).
type side int

const (
	publisherSide side = iota
	subscriberSide
)

// newMediaEngine registers Opus (and RED around it, see red.go), VP8 and
// H.264 (with RTX for video), the header extensions each side needs, and
// the RTCP feedback each side reads.
//
// Publisher side: transport-cc (TWCC) so the browser's send-side bandwidth
// estimator can ramp up to the simulcast high layer; mid/rid for simulcast;
// the RFC 6464 audio level for active-speaker detection.
// Subscriber side: goog-remb instead of transport-cc. The browser then runs
// its receive-side estimator and reports REMB, which the server reads as
// the subscriber's bandwidth: cheaper than running a send-side GCC (and its
// pacer) per subscriber, and enough to choose a simulcast layer.
//
// Audio NACK both ways (repair.go, resend.go): the browser asks only
// for what can still be played in time, and resends what we ask for.
//
// Without red, audio/red is not registered: publishers send Opus alone.
func newMediaEngine(s side, red bool) (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	var videoFB []webrtc.RTCPFeedback
	audioFB := []webrtc.RTCPFeedback(nil)
	switch s {
	case publisherSide:
		videoFB = []webrtc.RTCPFeedback{{Type: "transport-cc"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
		audioFB = []webrtc.RTCPFeedback{{Type: "transport-cc"}, {Type: "nack"}}
	case subscriberSide:
		videoFB = []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
		audioFB = []webrtc.RTCPFeedback{{Type: "nack"}}
	}
	codecs := []struct {
		params webrtc.RTPCodecParameters
		kind   webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: opusFmtp, RTCPFeedback: audioFB}, PayloadType: ptOpus}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: fmt.Sprintf("%d/%d", ptOpus, ptOpus)}, PayloadType: ptRED}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB}, PayloadType: ptVP8}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", ptVP8)}, PayloadType: ptVP8RTX}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", RTCPFeedback: videoFB}, PayloadType: ptH264}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", ptH264)}, PayloadType: ptH264RTX}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: videoFB}, PayloadType: ptH264CB}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", ptH264CB)}, PayloadType: ptH264CBRTX}, webrtc.RTPCodecTypeVideo},
	}
	for _, c := range codecs {
		if s == subscriberSide && c.params.MimeType == webrtc.MimeTypeRTX {
			// Not offered yet: a DownTrack bound with RTX sends its
			// retransmissions as RTX (resend.go), but Chrome's receiver
			// reports then count every repaired packet as lost, and the
			// loss-based estimate (bwe.go) reads 2 % repaired loss as
			// congestion: on loss2 the subscriber sat on 320 px for most
			// of a run. Retransmissions go on the media SSRC until the
			// estimate tells repaired loss apart.
			continue
		}
		if !red && c.params.MimeType == mimeRED {
			continue
		}
		if err := m.RegisterCodec(c.params, c.kind); err != nil {
			return nil, err
		}
	}
	type ext struct {
		uri  string
		kind webrtc.RTPCodecType
	}
	exts := []ext{{sdp.SDESMidURI, webrtc.RTPCodecTypeAudio}, {sdp.SDESMidURI, webrtc.RTPCodecTypeVideo}}
	if s == subscriberSide {
		// abs-send-time lets the browser's receive-side estimator measure
		// delay variation; without it Chrome's REMB stays at 80-200 kb/s
		// on an idle loopback and every subscriber was held on the lowest
		// simulcast layer (seen in the browser tests).
		// Video only: it is where the bandwidth goes, and audio packets,
		// most of the forwarded packets in an audio meeting, skip the cost.
		exts = append(exts, ext{sdp.ABSSendTimeURI, webrtc.RTPCodecTypeVideo})
	}
	if s == publisherSide {
		exts = append(exts,
			ext{sdp.AudioLevelURI, webrtc.RTPCodecTypeAudio},
			ext{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
			ext{sdp.SDESRepairRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
			ext{sdp.TransportCCURI, webrtc.RTPCodecTypeVideo},
			ext{sdp.TransportCCURI, webrtc.RTPCodecTypeAudio},
		)
	}
	for _, e := range exts {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return nil, err
		}
	}
	return m, nil
}
