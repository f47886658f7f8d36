package audiofile

import (
	"bytes"
	"encoding/binary"
	"math"
)

// wavSpec describes a WAV file built by makeWAV for tests.
type wavSpec struct {
	tag        int // wavePCM, waveFloat, waveALaw, waveMuLaw
	bits       int
	rate       int
	channels   int
	extensible bool
	dataSize   int64 // if non-zero, written instead of the real size
	extraChunk bool  // a LIST chunk before "fmt "
}

// makeWAV encodes interleaved samples (in [-1,1]) as a WAV file.
func makeWAV(s wavSpec, samples []float32) []byte {
	var data bytes.Buffer
	for _, v := range samples {
		switch {
		case s.tag == wavePCM && s.bits == 8:
			data.WriteByte(byte(int(math.Round(float64(v)*127)) + 128))
		case s.tag == wavePCM && s.bits == 16:
			binary.Write(&data, binary.LittleEndian, int16(math.Round(float64(v)*32767)))
		case s.tag == wavePCM && s.bits == 24:
			x := int32(math.Round(float64(v) * (1<<23 - 1)))
			data.Write([]byte{byte(x), byte(x >> 8), byte(x >> 16)})
		case s.tag == wavePCM && s.bits == 32:
			binary.Write(&data, binary.LittleEndian, int32(math.Round(float64(v)*(1<<31-1))))
		case s.tag == waveFloat && s.bits == 32:
			binary.Write(&data, binary.LittleEndian, v)
		case s.tag == waveFloat && s.bits == 64:
			binary.Write(&data, binary.LittleEndian, float64(v))
		case s.tag == waveMuLaw:
			data.WriteByte(linearToMulaw(int16(math.Round(float64(v) * 32767))))
		}
	}
	var fmtChunk bytes.Buffer
	tag := s.tag
	if s.extensible {
		tag = waveExtensible
	}
	align := s.channels * s.bits / 8
	binary.Write(&fmtChunk, binary.LittleEndian, []uint16{uint16(tag), uint16(s.channels)})
	binary.Write(&fmtChunk, binary.LittleEndian, []uint32{uint32(s.rate), uint32(s.rate * align)})
	binary.Write(&fmtChunk, binary.LittleEndian, []uint16{uint16(align), uint16(s.bits)})
	if s.extensible {
		binary.Write(&fmtChunk, binary.LittleEndian, []uint16{22, uint16(s.bits)})
		binary.Write(&fmtChunk, binary.LittleEndian, uint32(0)) // channel mask
		guid := []byte{0, 0, 0, 0, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}
		binary.LittleEndian.PutUint16(guid, uint16(s.tag))
		fmtChunk.Write(guid)
	}
	var out bytes.Buffer
	out.WriteString("RIFF")
	binary.Write(&out, binary.LittleEndian, uint32(0)) // patched below
	out.WriteString("WAVE")
	if s.extraChunk {
		out.WriteString("LIST")
		binary.Write(&out, binary.LittleEndian, uint32(5))
		out.Write([]byte("INFOx\x00")) // odd size: padded
	}
	out.WriteString("fmt ")
	binary.Write(&out, binary.LittleEndian, uint32(fmtChunk.Len()))
	out.Write(fmtChunk.Bytes())
	out.WriteString("data")
	size := int64(data.Len())
	if s.dataSize != 0 {
		size = s.dataSize
	}
	binary.Write(&out, binary.LittleEndian, uint32(size))
	out.Write(data.Bytes())
	b := out.Bytes()
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// linearToMulaw is the G.711 µ-law encoder (for round-trip tests).
func linearToMulaw(x int16) byte {
	const bias = 0x84
	sign := byte(0)
	v := int(x)
	if v < 0 {
		v, sign = -v, 0x80
	}
	v = min(v+bias, 32635+bias)
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0F
	return ^(sign | byte(exp<<4) | byte(mant))
}
