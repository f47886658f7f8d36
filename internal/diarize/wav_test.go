package diarize

import (
	"encoding/binary"
	"fmt"
	"os"
)

// readWAV16 reads a canonical 16-bit PCM mono WAV file (the dev set's
// mixes). Test-only stand-in until internal/speech/audiofile lands.
func readWAV16(path string) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%s: not a WAV file", path)
	}
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		sz := int(binary.LittleEndian.Uint32(b[p+4:]))
		p += 8
		if id == "data" {
			sz = min(sz, len(b)-p)
			out := make([]float32, sz/2)
			for i := range out {
				out[i] = float32(int16(binary.LittleEndian.Uint16(b[p+2*i:]))) / 32768
			}
			return out, nil
		}
		p += sz + sz%2
	}
	return nil, fmt.Errorf("%s: no data chunk", path)
}
