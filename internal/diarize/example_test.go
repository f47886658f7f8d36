package diarize_test

import (
	"context"
	"fmt"
	"math"

	"github.com/parleyhq/parley/internal/diarize"
)

// Two synthetic talkers take turns (a 110 Hz and a 220 Hz voice, 2.5 s
// each, 0.5 s apart); Diarize finds two speakers and where each talks.
// For a file, open it with audiofile.Open and pass the reader to
// DiarizeSource instead: the audio is then streamed, not held.
func ExampleDiarize() {
	var x []float32
	for i, f0 := range []float64{110, 220, 110, 220} {
		if i > 0 {
			x = append(x, make([]float32, 8000)...) // 0.5 s pause
		}
		x = append(x, talker(f0, 2.5)...)
	}
	turns, err := diarize.Diarize(context.Background(), x, diarize.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range turns {
		fmt.Printf("%s %.1f-%.1f\n", t.Speaker, t.Start, t.End)
	}
	// Output:
	// SPEAKER_1 0.0-2.5
	// SPEAKER_2 3.0-5.4
	// SPEAKER_1 6.0-8.4
	// SPEAKER_2 9.0-11.4
}

// talker renders a vowel-like sound: a pulse train at f0 through three
// formant resonators that change every 150 ms, pitch drifting by ±5 %.
func talker(f0, seconds float64) []float32 {
	vowels := [][3]float64{{700, 1200, 2600}, {350, 2100, 2800}, {500, 900, 2500}}
	scale := f0 / 150 // higher voice, shorter vocal tract
	out := make([]float32, int(seconds*16000))
	var y1, y2 [3]float64
	phase := 0.0
	for i := range out {
		t := float64(i) / 16000
		phase += f0 * (1 + 0.05*math.Sin(2*math.Pi*0.5*t)) / 16000
		x := 0.0
		if phase >= 1 {
			phase--
			x = 1
		}
		v := vowels[int(t/0.15)%3]
		for k := range 3 {
			r := math.Exp(-math.Pi * (60 + 40*float64(k)) / 16000)
			y := (1-r)*x + 2*r*math.Cos(2*math.Pi*v[k]*math.Sqrt(scale)/16000)*y1[k] - r*r*y2[k]
			y2[k], y1[k] = y1[k], y
			x = y
		}
		out[i] = float32(x)
	}
	peak := 0.0
	for _, s := range out {
		peak = max(peak, math.Abs(float64(s)))
	}
	for i := range out {
		out[i] = float32(float64(out[i]) / peak * 0.25) // peak −12 dBFS
	}
	return out
}
