package sfu

import "testing"

func TestVP8Keyframe(t *testing.T) {
	cases := []struct {
		name string
		p    []byte
		want bool
	}{
		{"plain key", []byte{0x10, 0x00}, true},
		{"plain delta", []byte{0x10, 0x01}, false},
		{"not start", []byte{0x00, 0x00}, false},
		{"partition 1", []byte{0x11, 0x00}, false},
		{"15-bit picture id key", []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"7-bit picture id delta", []byte{0x90, 0x80, 0x05, 0x01}, false},
		{"pid+tl0+tid key", []byte{0x90, 0xe0, 0x81, 0x23, 0x07, 0x20, 0x9c}, true},
		{"truncated", []byte{0x90, 0x80}, false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		if got := vp8KeyframeStart(c.p); got != c.want {
			t.Errorf("%s: got %v want %v", c.name, got, c.want)
		}
	}
}

func TestH264Keyframe(t *testing.T) {
	cases := []struct {
		name string
		p    []byte
		want bool
	}{
		{"IDR", []byte{0x65, 0x88}, true},
		{"SPS", []byte{0x67, 0x42}, true},
		{"non-IDR slice", []byte{0x41, 0x9a}, false},
		{"STAP-A with SPS", []byte{0x18, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"STAP-A without", []byte{0x18, 0x00, 0x02, 0x41, 0x42}, false},
		{"STAP-A lying size", []byte{0x18, 0x00, 0x09, 0x67}, false},
		{"FU-A start IDR", []byte{0x7c, 0x85, 0x00}, true},
		{"FU-A middle IDR", []byte{0x7c, 0x05, 0x00}, false},
		{"FU-A start non-IDR", []byte{0x7c, 0x81}, false},
	}
	for _, c := range cases {
		if got := h264KeyframeStart(c.p); got != c.want {
			t.Errorf("%s: got %v want %v", c.name, got, c.want)
		}
	}
}

// FuzzKeyframe feeds arbitrary payloads, as a publisher may send, to the
// keyframe parsers: they must never panic.
func FuzzKeyframe(f *testing.F) {
	f.Add([]byte{0x90, 0xe0, 0x81, 0x23, 0x07, 0x20, 0x9c})
	f.Add([]byte{0x18, 0x00, 0x02, 0x67, 0x42})
	f.Add([]byte{0x7c, 0x85})
	f.Fuzz(func(t *testing.T, p []byte) {
		vp8KeyframeStart(p)
		h264KeyframeStart(p)
	})
}
