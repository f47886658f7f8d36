package client

import (
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// repairNamer makes a client's RTX packets name their simulcast layer
// as browsers do. pion's NACK responder builds an RTX packet from the
// original's header, so it carries the layer's rtp-stream-id; a
// receiver that meets the RTX SSRC for the first time reads that as a
// new media stream of the layer (pion's does, and swaps the layer's
// stream for its repairs). RFC 8852 says a repair stream names its layer
// in repaired-rtp-stream-id instead; this moves the id there. It must
// sit nearer the wire than the responder (added to the registry first).
type repairNamer struct{ interceptor.NoOp }

type repairNamerFactory struct{}

func (repairNamerFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &repairNamer{}, nil
}

func (*repairNamer) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	var rid, rrid uint8
	for _, e := range info.RTPHeaderExtensions {
		switch e.URI {
		case sdp.SDESRTPStreamIDURI:
			rid = uint8(e.ID)
		case sdp.SDESRepairRTPStreamIDURI:
			rrid = uint8(e.ID)
		}
	}
	if info.SSRCRetransmission == 0 || rid == 0 || rrid == 0 {
		return w
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if h.SSRC != info.SSRCRetransmission {
			return w.Write(h, payload, a)
		}
		id := h.GetExtension(rid)
		if id == nil {
			return w.Write(h, payload, a)
		}
		c := h.Clone()
		if err := c.DelExtension(rid); err != nil {
			return 0, err
		}
		if err := c.SetExtension(rrid, id); err != nil {
			return 0, err
		}
		return w.Write(&c, payload, a)
	})
}
