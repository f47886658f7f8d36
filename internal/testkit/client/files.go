package client

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pion/opus/pkg/oggreader"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
)

// ErrUnsupportedFile is returned for media files the client cannot send.
var ErrUnsupportedFile = errors.New("unsupported media file")

// LoadOggOpus reads the Opus packets of an Ogg/Opus file (as opusenc
// writes it). Every packet must be 20 ms: the sender paces one per 20 ms.
func LoadOggOpus(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnsupportedFile, path, err)
	}
	var pkts [][]byte
	for {
		p, _, err := r.ParseNextPacket()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrUnsupportedFile, path, err)
		}
		if len(p) >= 8 && (string(p[:8]) == "OpusTags" || string(p[:8]) == "OpusHead") {
			continue
		}
		if d := opusDurationMicros(p); d != 20000 {
			return nil, fmt.Errorf("%w: %s: %d µs Opus packets, want 20 ms (opusenc --framesize 20)", ErrUnsupportedFile, path, d)
		}
		pkts = append(pkts, append([]byte(nil), p...))
	}
	if len(pkts) == 0 {
		return nil, fmt.Errorf("%w: %s: no Opus packets", ErrUnsupportedFile, path)
	}
	return pkts, nil
}

// opusDurationMicros reads a packet's duration from its TOC byte and
// frame count (RFC 6716 §3.1-3.2); 0 for an unparseable packet.
func opusDurationMicros(p []byte) int {
	if len(p) == 0 {
		return 0
	}
	config := int(p[0] >> 3)
	var frame int
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = []int{10000, 20000, 40000, 60000}[config%4]
	case config < 16: // hybrid: 10, 20 ms
		frame = []int{10000, 20000}[config%2]
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []int{2500, 5000, 10000, 20000}[config%4]
	}
	switch p[0] & 3 {
	case 0:
		return frame
	case 1, 2:
		return 2 * frame
	default:
		if len(p) < 2 {
			return 0
		}
		return int(p[1]&0x3f) * frame
	}
}

// LoadIVF reads the frames of an IVF file (VP8) and its frame rate.
func LoadIVF(path string) (frames [][]byte, fps int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r, h, err := ivfreader.NewWith(f)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrUnsupportedFile, path, err)
	}
	if h.FourCC != "VP80" {
		return nil, 0, fmt.Errorf("%w: %s: codec %q, want VP80", ErrUnsupportedFile, path, h.FourCC)
	}
	for {
		fr, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %s: %v", ErrUnsupportedFile, path, err)
		}
		frames = append(frames, fr)
	}
	if len(frames) == 0 {
		return nil, 0, fmt.Errorf("%w: %s: no frames", ErrUnsupportedFile, path)
	}
	fps = 30
	if h.TimebaseNumerator > 0 && h.TimebaseDenominator > 0 {
		fps = int(h.TimebaseDenominator / h.TimebaseNumerator)
		if fps <= 0 || fps > 120 {
			fps = 30
		}
	}
	return frames, fps, nil
}
