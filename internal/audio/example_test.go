package audio_test

import (
	"fmt"
	"math"

	"github.com/parleyhq/parley/internal/audio"
)

func ExampleNewResampler() {
	r, _ := audio.NewResampler(44100, 16000)
	in := make([]float32, 44100) // one second at 44.1 kHz
	out := r.Process(nil, in)
	out = r.Flush(out)
	fmt.Println(len(out))
	// Output: 16000
}

func ExampleMFCC() {
	m, _ := audio.NewMFCC(audio.DefaultMFCCConfig())
	x := make([]float32, 16000) // one second of a 220 Hz tone
	for i := range x {
		x[i] = float32(0.3 * math.Sin(2*math.Pi*220*float64(i)/16000))
	}
	feats := m.Compute(x)
	fmt.Println(len(feats), "frames of", len(feats[0]), "values")
	// Output: 98 frames of 39 values
}
