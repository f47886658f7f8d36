package audiofile

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mewkiz/flac"
)

type flacDecoder struct {
	s        *flac.Stream
	channels int
}

func newFLAC(r io.Reader) (dec decoder, info Info, err error) {
	defer recoverCorrupt("flac", &err)
	s, err := flac.New(r)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, Info{}, fmt.Errorf("%w: flac: truncated header", ErrCorrupt)
		}
		return nil, Info{}, fmt.Errorf("%w: flac: %v", ErrCorrupt, err)
	}
	si := s.Info
	if si == nil || si.NChannels < 1 || si.BitsPerSample < 4 || si.BitsPerSample > 32 {
		return nil, Info{}, fmt.Errorf("%w: flac: bad STREAMINFO", ErrCorrupt)
	}
	if si.SampleRate < minSampleRate || si.SampleRate > maxSampleRate {
		return nil, Info{}, fmt.Errorf("%w: flac: sample rate %d Hz", ErrUnsupportedFormat, si.SampleRate)
	}
	info = Info{
		Format:     "flac",
		Encoding:   fmt.Sprintf("flac%d", si.BitsPerSample),
		SampleRate: int(si.SampleRate),
		Channels:   int(si.NChannels),
	}
	if si.NSamples > 0 {
		info.Duration = time.Duration(float64(si.NSamples) / float64(si.SampleRate) * float64(time.Second))
	}
	return &flacDecoder{s: s, channels: int(si.NChannels)}, info, nil
}

// recoverCorrupt turns a panic inside a third-party decoder (a bug it has on
// hostile input) into ErrCorrupt for this file instead of taking the server
// down; it is the one place where a panic is caught.
func recoverCorrupt(format string, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%w: %s: decoder failed: %v", ErrCorrupt, format, p)
	}
}

func (d *flacDecoder) setInfo(*Info) {}

func (d *flacDecoder) decode(out []float32) (_ []float32, err error) {
	defer recoverCorrupt("flac", &err)
	for len(out) < readChunkFrames*d.channels {
		f, err := d.s.ParseNext()
		if err == io.EOF {
			return out, io.EOF
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return out, fmt.Errorf("%w: flac: truncated frame", ErrCorrupt)
			}
			return out, fmt.Errorf("%w: flac: %v", ErrCorrupt, err)
		}
		if len(f.Subframes) != d.channels {
			return out, fmt.Errorf("%w: flac: frame with %d channels in a %d-channel stream", ErrCorrupt, len(f.Subframes), d.channels)
		}
		bps := int(f.BitsPerSample)
		if bps < 4 || bps > 32 {
			return out, fmt.Errorf("%w: flac: frame with %d bits per sample", ErrCorrupt, bps)
		}
		scale := 1 / float64(int64(1)<<(bps-1))
		n := len(f.Subframes[0].Samples)
		for _, sf := range f.Subframes[1:] {
			n = min(n, len(sf.Samples))
		}
		for i := range n {
			for _, sf := range f.Subframes {
				out = append(out, float32(float64(sf.Samples[i])*scale))
			}
		}
	}
	return out, nil
}
