package packetcache

import (
	"bytes"
	"testing"
)

func TestStoreGet(t *testing.T) {
	c := New(4)
	for seq := uint16(65530); seq != 3; seq++ {
		c.Store(seq, []byte{byte(seq), 1, 2})
	}
	// The last 4 sequence numbers (65535, 0, 1, 2) are kept across the wrap.
	for _, seq := range []uint16{65535, 0, 1, 2} {
		got, ok := c.Get(seq, nil)
		if !ok || !bytes.Equal(got, []byte{byte(seq), 1, 2}) {
			t.Errorf("seq %d: %v %v", seq, got, ok)
		}
	}
	for _, seq := range []uint16{65530, 65534, 3} {
		if _, ok := c.Get(seq, nil); ok {
			t.Errorf("seq %d should be gone or never stored", seq)
		}
	}
}

func TestStoreReusesBuffers(t *testing.T) {
	c := New(2)
	c.Store(0, make([]byte, 1200))
	allocs := testing.AllocsPerRun(100, func() { c.Store(0, make([]byte, 0, 1200)[:1000]) })
	if allocs > 1 { // the make in the closure itself
		t.Fatalf("%v allocations per store", allocs)
	}
}

// TestStoreReportsDuplicates: a second packet with a sequence number the
// cache holds is reported and does not replace the first; once the slot
// has been reused, the number is new again.
func TestStoreReportsDuplicates(t *testing.T) {
	c := New(4)
	if _, dup := c.Store(7, []byte{7, 1}); dup {
		t.Fatal("the first packet 7 is reported as a duplicate")
	}
	got, dup := c.Store(7, []byte{7, 2})
	if !dup || !bytes.Equal(got, []byte{7, 1}) {
		t.Fatalf("the second packet 7: dup %v, kept %v; want true and the first packet", dup, got)
	}
	c.Store(11, []byte{11}) // same slot, 4 numbers later
	if _, dup := c.Store(7, []byte{7, 3}); dup {
		t.Fatal("packet 7 after its slot was reused is reported as a duplicate")
	}
}
