package audiofile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/pion/opus"

	"github.com/parleyhq/parley/internal/audio"
	"github.com/parleyhq/parley/internal/audio/ogg"
)

// maxOpusPacket bounds one Ogg packet we keep: an Opus packet holds at most
// 120 ms of frames of at most 1275 bytes each (RFC 6716 §3.2.5), 61 440
// bytes; OpusTags may be larger (cover art) and is skipped unread.
const maxOpusPacket = 48 * 1275

// Opus always runs at 48 kHz internally; granule positions count 48 kHz
// samples (RFC 7845 §4).
const opusRate = 48000
const opusDecim = opusRate / Rate

type oggOpusDecoder struct {
	or       *ogg.Reader
	dec      opus.Decoder
	pcm      []float32
	skip     int     // 16 kHz samples of pre-skip still to drop
	gain     float32 // linear output gain from the header
	preSkip  int64   // 48 kHz
	decoded  int64   // 48 kHz samples produced by packets (before pre-skip)
	info     *Info
	badNote  int // index of the "undecodable packets" note, -1 if none
	bad      int
	finished bool
}

func newOggOpus(r io.Reader, seeker io.ReadSeeker, size int64) (dec decoder, info Info, err error) {
	or := ogg.NewReader(r, maxOpusPacket, func(first []byte) bool {
		return len(first) >= 8 && string(first[:8]) == "OpusHead"
	})
	head, err := or.Next()
	if err != nil {
		if errors.Is(err, ogg.ErrNoStream) {
			return nil, Info{}, fmt.Errorf("%w: Ogg stream without Opus (Vorbis, Speex, FLAC or other codec)", ErrUnsupportedFormat)
		}
		return nil, Info{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	h := head.Data
	if len(h) < 19 {
		return nil, Info{}, fmt.Errorf("%w: ogg-opus: OpusHead of %d bytes", ErrCorrupt, len(h))
	}
	if h[8]>>4 != 0 {
		return nil, Info{}, fmt.Errorf("%w: ogg-opus: OpusHead version %d", ErrUnsupportedFormat, h[8])
	}
	channels := int(h[9])
	preSkip := int(binary.LittleEndian.Uint16(h[10:]))
	inRate := int(binary.LittleEndian.Uint32(h[12:]))
	gainQ8 := int16(binary.LittleEndian.Uint16(h[16:]))
	family := h[18]
	if channels < 1 {
		return nil, Info{}, fmt.Errorf("%w: ogg-opus: zero channels", ErrCorrupt)
	}
	if family != 0 || channels > 2 {
		// Mapping family 1+ is multistream (surround, ambisonics), which the
		// decoder here does not demultiplex.
		return nil, Info{}, fmt.Errorf("%w: ogg-opus: multistream Opus (mapping family %d, %d channels)", ErrUnsupportedFormat, family, channels)
	}
	if inRate == 0 {
		inRate = opusRate
	}
	tags, err := or.Next()
	if err != nil {
		return nil, Info{}, fmt.Errorf("%w: ogg-opus: missing OpusTags: %v", ErrCorrupt, err)
	}
	if !tags.Oversize && (len(tags.Data) < 8 || string(tags.Data[:8]) != "OpusTags") {
		return nil, Info{}, fmt.Errorf("%w: ogg-opus: second packet is not OpusTags", ErrCorrupt)
	}
	d, err := opus.NewDecoderWithOutput(Rate, 1)
	if err != nil {
		return nil, Info{}, err
	}
	info = Info{Format: "ogg-opus", Encoding: "opus", SampleRate: inRate, Channels: channels}
	info.Notes = append(info.Notes, fmt.Sprintf("opus decoded directly to %d Hz mono", Rate))
	if seeker != nil {
		if ra, ok := seeker.(io.ReaderAt); ok {
			if g := ogg.LastGranule(ra, size, or.Serial()); g > int64(preSkip) {
				info.Duration = time.Duration(float64(g-int64(preSkip)) / opusRate * float64(time.Second))
			}
		}
	}
	od := &oggOpusDecoder{
		or:      or,
		dec:     d,
		pcm:     make([]float32, 5760),
		skip:    preSkip / opusDecim,
		preSkip: int64(preSkip),
		gain:    float32(math.Pow(10, float64(gainQ8)/(20*256))),
		badNote: -1,
	}
	return od, info, nil
}

func (d *oggOpusDecoder) setInfo(i *Info) { d.info = i }

func (d *oggOpusDecoder) decode(out []float32) (_ []float32, err error) {
	defer recoverCorrupt("ogg-opus", &err)
	for len(out) < readChunkFrames && !d.finished {
		p, err := d.or.Next()
		if err == io.EOF {
			d.finished = true
			break
		}
		if err != nil {
			return out, fmt.Errorf("%w: ogg-opus: %v", ErrCorrupt, err)
		}
		if p.Oversize {
			return out, fmt.Errorf("%w: ogg-opus: audio packet of %d bytes", ErrCorrupt, p.Size)
		}
		n48, err := audio.OpusPacketSamples(p.Data)
		if err != nil {
			d.noteBad()
			continue
		}
		var n int
		var derr error
		if len(p.Data) == 1 {
			// A TOC byte alone: a frame without data (RFC 6716 §3.2.1),
			// which a recorder writes over lost or muted audio.
			n = n48 / opusDecim
			clear(d.pcm[:n])
		} else {
			n, derr = d.dec.DecodeToFloat32(p.Data, d.pcm)
		}
		if derr != nil || n != n48/opusDecim {
			// A packet this decoder cannot read becomes silence of the same
			// length, so the timeline stays right.
			d.noteBad()
			n = n48 / opusDecim
			clear(d.pcm[:n])
		}
		pcm := d.pcm[:n]
		d.decoded += int64(n48)
		if p.EOS && p.Granule >= 0 {
			// The last page's granule position says where the audio ends;
			// the encoder padded the last packet past it (RFC 7845 §4.4).
			if extra := (d.decoded - p.Granule) / opusDecim; extra > 0 && int(extra) <= len(pcm) {
				pcm = pcm[:len(pcm)-int(extra)]
			}
			d.finished = true
		}
		if d.skip > 0 {
			k := min(d.skip, len(pcm))
			pcm = pcm[k:]
			d.skip -= k
		}
		for _, v := range pcm {
			out = append(out, clampSample(float64(v*d.gain)))
		}
	}
	if d.finished {
		if d.or.Lost > 0 && d.info != nil {
			d.info.Notes = append(d.info.Notes, fmt.Sprintf("%d Ogg pages missing", d.or.Lost))
		}
		return out, io.EOF
	}
	return out, nil
}

func (d *oggOpusDecoder) noteBad() {
	d.bad++
	if d.info == nil {
		return
	}
	msg := fmt.Sprintf("%d undecodable Opus packets replaced by silence", d.bad)
	if d.badNote < 0 {
		d.badNote = len(d.info.Notes)
		d.info.Notes = append(d.info.Notes, msg)
		return
	}
	d.info.Notes[d.badNote] = msg
}
