package ogg

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func page(t *testing.T, dst []byte, serial, seq uint32, granule int64, flags byte, packets ...[]byte) []byte {
	t.Helper()
	b, ok := AppendPage(dst, serial, seq, granule, flags, packets...)
	if !ok {
		t.Fatal("page too long")
	}
	return b
}

func TestPacketsAcrossPagesAndStreams(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 600) // three lacing segments
	var b []byte
	b = page(t, b, 9, 0, 0, FlagBOS, []byte("VorbisHead")) // another stream first
	b = page(t, b, 5, 0, 0, FlagBOS, []byte("OpusHead-ish"))
	b = page(t, b, 9, 1, 100, 0, []byte("vorbis data"))
	b = page(t, b, 5, 1, 960, 0, []byte("a"), big)
	b = page(t, b, 5, 2, 1920, FlagEOS, []byte("b"))
	r := NewReader(bytes.NewReader(b), 1000, func(p []byte) bool { return bytes.HasPrefix(p, []byte("OpusHead")) })
	var got []Packet
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	if r.Serial() != 5 || len(got) != 4 {
		t.Fatalf("serial %d, %d packets", r.Serial(), len(got))
	}
	if string(got[1].Data) != "a" || got[1].Granule != -1 || len(got[2].Data) != 600 || got[2].Granule != 960 {
		t.Errorf("page 1 packets: %q %d / %d bytes granule %d", got[1].Data, got[1].Granule, len(got[2].Data), got[2].Granule)
	}
	if !got[3].EOS || got[3].Granule != 1920 {
		t.Errorf("last packet %+v", got[3])
	}

	// The same with a 500-byte limit: the big packet is skipped, not kept.
	r = NewReader(bytes.NewReader(b), 500, func(p []byte) bool { return bytes.HasPrefix(p, []byte("OpusHead")) })
	r.Next()
	r.Next()
	p, _ := r.Next()
	if !p.Oversize || p.Data != nil || p.Size != 600 {
		t.Errorf("oversize packet %+v", p)
	}
}

func TestDamage(t *testing.T) {
	var b []byte
	b = page(t, b, 1, 0, 0, FlagBOS, []byte("head"))
	b = page(t, b, 1, 1, 10, 0, []byte("one"))
	n := len(b)
	b = page(t, b, 1, 3, 30, 0, []byte("three")) // page 2 lost
	r := NewReader(bytes.NewReader(b), 100, nil)
	for range 3 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Next(); err != io.EOF || r.Lost != 1 {
		t.Errorf("after a gap: err %v, lost %d", err, r.Lost)
	}
	bad := append([]byte(nil), b...)
	bad[n+30] ^= 0xFF
	r = NewReader(bytes.NewReader(bad), 100, nil)
	var err error
	for err == nil {
		_, err = r.Next()
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("flipped byte: %v", err)
	}
	r = NewReader(bytes.NewReader(b), 100, func([]byte) bool { return false })
	if _, err := r.Next(); !errors.Is(err, ErrNoStream) {
		t.Errorf("no match: %v", err)
	}
}

func FuzzReader(f *testing.F) {
	var b []byte
	b, _ = AppendPage(b, 1, 0, 0, FlagBOS, []byte("OpusHead"))
	b, _ = AppendPage(b, 1, 1, 960, FlagEOS, []byte("x"), bytes.Repeat([]byte{1}, 300))
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), 256, nil)
		for range 10000 {
			p, err := r.Next()
			if err != nil {
				return
			}
			if len(p.Data) > 256 || (p.Oversize && p.Data != nil) {
				t.Fatalf("packet of %d bytes past the limit", len(p.Data))
			}
		}
	})
}
