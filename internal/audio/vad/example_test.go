package vad_test

import (
	"fmt"
	"math"

	"github.com/parleyhq/parley/internal/audio/vad"
)

func ExampleDetect() {
	// 3 s of 16 kHz audio: a voiced sound (140 Hz and its harmonics, with
	// a syllable-rate tremolo) from 1.0 to 2.0 s, silence around it.
	x := make([]float32, 3*16000)
	for i := 16000; i < 32000; i++ {
		t := float64(i) / 16000
		env := 0.6 + 0.4*math.Sin(2*math.Pi*4*t)
		for h := 1; h <= 12; h++ {
			x[i] += float32(env * 0.02 / float64(h) * math.Sin(2*math.Pi*140*float64(h)*t))
		}
	}
	for _, s := range vad.Detect(x, vad.DefaultConfig()) {
		fmt.Printf("speech %.2f–%.2f s\n", s.Start, s.End)
	}
	// The 32 ms analysis window sees the edges 20 ms early and late.

	// Output: speech 0.98–2.02 s
}
