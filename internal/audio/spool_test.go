package audio

import (
	"io"
	"math"
	"path/filepath"
	"testing"
)

func TestSpoolTimelineAndGaps(t *testing.T) {
	s, err := CreateSpool(filepath.Join(t.TempDir(), "t.pcm"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Remove()
	tone := make([]float32, SpoolRate/10) // 100 ms
	for i := range tone {
		tone[i] = 0.5
	}
	s.Write(10.0, tone)
	s.Write(10.1, tone) // contiguous
	s.Write(11.0, tone) // after a 0.8 s gap
	if s.Origin() != 10 || math.Abs(s.Duration()-1.1) > 1e-9 {
		t.Fatalf("origin %v duration %v", s.Origin(), s.Duration())
	}
	r, err := s.Reader()
	if err != nil {
		t.Fatal(err)
	}
	var all []float32
	buf := make([]float32, 1000)
	for {
		n, err := r.Read(buf)
		all = append(all, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(all) != int(1.1*SpoolRate) {
		t.Fatalf("%d samples", len(all))
	}
	at := func(sec float64) float32 { return all[int(sec*SpoolRate)] }
	if math.Abs(float64(at(0.05)-0.5)) > 1e-3 || at(0.5) != 0 || math.Abs(float64(at(1.05)-0.5)) > 1e-3 {
		t.Fatalf("samples at 0.05/0.5/1.05 s: %v %v %v", at(0.05), at(0.5), at(1.05))
	}
}
