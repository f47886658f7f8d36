package audio

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMelScale(t *testing.T) {
	// HTK: 1000 Hz ≈ 1000 mel (1127·ln(1+1000/700) = 999.99).
	if m := Mel(1000); math.Abs(m-999.99) > 0.01 {
		t.Errorf("Mel(1000) = %.3f", m)
	}
	for _, f := range []float64{0, 20, 440, 7600} {
		if g := MelToHz(Mel(f)); math.Abs(g-f) > 1e-9 {
			t.Errorf("MelToHz(Mel(%g)) = %g", f, g)
		}
	}
}

func TestToneLandsInItsMelBand(t *testing.T) {
	cfg := DefaultMFCCConfig()
	m, err := NewMFCC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Filter j's centre is edge j+1 of NumFilters+2 mel-spaced edges.
	lo, hi := Mel(cfg.LowFreq), Mel(cfg.HighFreq)
	centre := func(j int) float64 {
		return MelToHz(lo + (hi-lo)*float64(j+1)/float64(cfg.NumFilters+1))
	}
	for _, f := range []float64{150, 500, 1000, 2500, 6000} {
		x := tone(16000, f, 0.5, 400)
		lm := m.LogMel(x)
		best := 0
		for j := range lm {
			if lm[j] > lm[best] {
				best = j
			}
		}
		// The loudest filter is the one centred nearest the tone.
		nearest := 0
		for j := range cfg.NumFilters {
			if math.Abs(centre(j)-f) < math.Abs(centre(nearest)-f) {
				nearest = j
			}
		}
		if best != nearest {
			t.Errorf("%g Hz tone: loudest filter %d (centre %.0f Hz), want %d (centre %.0f Hz)", f, best, centre(best), nearest, centre(nearest))
		}
		// Far filters get almost nothing: 40 dB (ln: 9.2) below the peak.
		for j := range lm {
			if (j < best-4 || j > best+4) && lm[j] > lm[best]-9.2 {
				t.Errorf("%g Hz tone: filter %d at %.1f, peak %.1f", f, j, lm[j], lm[best])
			}
		}
	}
}

func TestDCTOfConstantAndLifter(t *testing.T) {
	cfg := DefaultMFCCConfig()
	m, _ := NewMFCC(cfg)
	// For a constant log-mel vector v, the orthonormal DCT gives
	// c0 = v·sqrt(M) and nothing else.
	for j := range m.logMel {
		m.logMel[j] = 2.5
	}
	for i, row := range m.dct {
		var s float64
		for j, w := range row {
			s += w * m.logMel[j]
		}
		want := 0.0
		if i == 0 {
			want = 2.5 * math.Sqrt(40)
		}
		if math.Abs(s-want) > 1e-9 {
			t.Errorf("c%d = %g, want %g", i, s, want)
		}
	}
	// Lifter (HTK): 1 + L/2·sin(πi/L); L = 22: w1 = 1 + 11·sin(π/22).
	if w := m.lifter[1]; math.Abs(w-(1+11*math.Sin(math.Pi/22))) > 1e-12 || m.lifter[0] != 1 {
		t.Errorf("lifter %v", m.lifter[:2])
	}
	// Hamming window ends at 0.08 and peaks at 1 in the middle.
	if w := m.window; math.Abs(w[0]-0.08) > 1e-12 || math.Abs(w[len(w)-1]-0.08) > 1e-12 {
		t.Errorf("window ends %g %g", w[0], w[len(w)-1])
	}
}

func TestMFCCFrameCountsAndStreaming(t *testing.T) {
	cfg := DefaultMFCCConfig()
	m, _ := NewMFCC(cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 16000+123)
	for i := range x {
		x[i] = float32(0.1*rng.NormFloat64()) + float32(0.3*math.Sin(float64(i)/7))
	}
	all := m.Compute(x)
	// 1 + (16123 − 400)/160 = 99 frames of 39 values.
	if len(all) != 99 || len(all[0]) != 39 {
		t.Fatalf("%d frames of %d", len(all), len(all[0]))
	}
	var got [][]float64
	for off := 0; off < len(x); {
		n := min(len(x)-off, 1+rng.IntN(500))
		got = append(got, m.Write(x[off:off+n])...)
		off += n
	}
	got = append(got, m.Flush()...)
	if len(got) != len(all) {
		t.Fatalf("streamed %d frames, offline %d", len(got), len(all))
	}
	for i := range got {
		for j := range got[i] {
			if got[i][j] != all[i][j] {
				t.Fatalf("frame %d value %d: %g vs %g", i, j, got[i][j], all[i][j])
			}
		}
	}
}

func TestDeltasOfRamp(t *testing.T) {
	cfg := DefaultMFCCConfig()
	cfg.CMNWindow = 0
	m, _ := NewMFCC(cfg)
	// Feed statics directly: c_t = t·(1, 2, …) for 20 frames.
	for tt := range 20 {
		c := make([]float64, cfg.NumCeps)
		for i := range c {
			c[i] = float64(tt * (i + 1))
		}
		m.statics = append(m.statics, c)
		m.produced++
	}
	out := m.drain(nil, true)
	// Away from the edges Δ = slope (i+1), ΔΔ = 0.
	for tt := 4; tt < 16; tt++ {
		for i := range cfg.NumCeps {
			if d := out[tt][cfg.NumCeps+i]; math.Abs(d-float64(i+1)) > 1e-12 {
				t.Fatalf("frame %d: Δc%d = %g, want %d", tt, i, d, i+1)
			}
			if dd := out[tt][2*cfg.NumCeps+i]; math.Abs(dd) > 1e-12 {
				t.Fatalf("frame %d: ΔΔc%d = %g, want 0", tt, i, dd)
			}
		}
	}
}

func TestCMNRemovesChannelGain(t *testing.T) {
	// A gain (or a fixed channel colouring) is a constant added to the log
	// mel energies, so to the cepstra: after the CMN window has filled,
	// features of x and of 4·x must agree.
	cfg := DefaultMFCCConfig()
	cfg.CMNWindow = 50
	m, _ := NewMFCC(cfg)
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 32000)
	for i := range x {
		x[i] = float32(0.05 * rng.NormFloat64() * (1 + math.Sin(float64(i)/800)))
	}
	y := make([]float32, len(x))
	for i := range x {
		y[i] = 4 * x[i]
	}
	a, b := m.Compute(x), m.Compute(y)
	for tt := 60; tt < len(a); tt++ {
		for i := range cfg.NumCeps {
			if math.Abs(a[tt][i]-b[tt][i]) > 1e-6 {
				t.Fatalf("frame %d c%d: %g vs %g", tt, i, a[tt][i], b[tt][i])
			}
		}
	}
	cfg.CMNWindow = 0
	m, _ = NewMFCC(cfg)
	a, b = m.Compute(x), m.Compute(y)
	// Without CMN, c0 differs by ln(16)·sqrt(40) (the log-mel offset).
	if d := b[70][0] - a[70][0]; math.Abs(d-math.Log(16)*math.Sqrt(40)*m.lifter[0]) > 1e-6 {
		t.Errorf("c0 offset without CMN %g", d)
	}
}

func TestMFCCBadConfig(t *testing.T) {
	for _, mod := range []func(*MFCCConfig){
		func(c *MFCCConfig) { c.NumCeps = 50 },
		func(c *MFCCConfig) { c.HighFreq = 9000 },
		func(c *MFCCConfig) { c.FrameLength = 0 },
		func(c *MFCCConfig) { c.NumFilters = 200 },
	} {
		c := DefaultMFCCConfig()
		mod(&c)
		if _, err := NewMFCC(c); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}

func BenchmarkMFCC(b *testing.B) {
	m, _ := NewMFCC(DefaultMFCCConfig())
	x := tone(16000, 440, 0.3, 16000) // one second
	for b.Loop() {
		m.Compute(x)
	}
}
