package record

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/pion/rtp"

	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/objects"
)

// opusPacket is a 20 ms SILK wideband packet header with a few bytes of
// payload: enough for the writer, which never decodes.
func opusPacket(seq uint16, ts uint32) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: []byte{9 << 3, 1, 2, 3, 4, 5}}
}

// TestOggOpusFillsGapsAndDropsLate: a lost stretch and a mute are filled
// with empty frames, so the file's length is its span on the clock; a
// late packet is dropped; the result reads as Ogg/Opus of that length.
func TestOggOpusFillsGapsAndDropsLate(t *testing.T) {
	var buf bytes.Buffer
	o := newOggOpus(&buf, 7)
	ts := uint32(1000)
	seq := uint16(1)
	write := func(n int) {
		for range n {
			if err := o.write(opusPacket(seq, ts)); err != nil {
				t.Fatal(err)
			}
			seq++
			ts += 960
		}
	}
	write(50)       // 1 s
	ts += 960 * 100 // 2 s without packets (muted, or lost)
	write(50)       // 1 s
	late := opusPacket(3, 1000+960*2)
	o.write(late)
	if err := o.close(); err != nil {
		t.Fatal(err)
	}
	if got := o.duration(); got != 4 {
		t.Fatalf("duration %.3f s, want 4 (1 s, a 2 s gap, 1 s)", got)
	}
	if o.late() != 1 {
		t.Errorf("late packets counted: %d", o.late())
	}
	path := filepath.Join(t.TempDir(), "a.ogg")
	os.WriteFile(path, buf.Bytes(), 0o600)
	pcm, info, err := audiofile.ReadAll(path)
	if err != nil {
		t.Fatalf("the file does not read: %v", err)
	}
	if got := float64(len(pcm)) / audiofile.Rate; got < 3.98 || got > 4.01 {
		t.Errorf("decoded %.3f s, want 4 (notes %v)", got, info.Notes)
	}
	valid, dur, err := scanOgg(bytes.NewReader(buf.Bytes()))
	if err != nil || valid != int64(buf.Len()) || dur != 4 {
		t.Errorf("scan: %d of %d bytes, %.3f s, %v", valid, buf.Len(), dur, err)
	}
}

// vp8 builds one RTP packet of a VP8 frame: S marks the frame's first
// packet, key a keyframe (its first payload byte's low bit is 0).
func vp8(seq uint16, ts uint32, start, marker, key bool) *rtp.Packet {
	desc := byte(0)
	if start {
		desc = 0x10
	}
	first := byte(1)
	if key {
		first = 0
	}
	return &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: marker},
		Payload: []byte{desc, first, 0xaa, 0xbb}}
}

// TestIVFWaitsForKeyframeAfterLoss: the file starts at a keyframe, a
// frame with a lost packet and the frames after it are left out (and a
// keyframe asked for) until the next keyframe.
func TestIVFWaitsForKeyframeAfterLoss(t *testing.T) {
	var buf bytes.Buffer
	asked := 0
	v := newIVFVP8(&buf, func() { asked++ })
	seq := uint16(100)
	frame := func(ts uint32, key bool, skipSecond bool) {
		v.write(vp8(seq, ts, true, false, key))
		seq++
		if !skipSecond {
			v.write(vp8(seq, ts, false, true, key))
		}
		seq++
	}
	frame(0, false, false)     // before any keyframe: left out
	frame(3000, true, false)   // keyframe: written
	frame(6000, false, false)  // written
	frame(9000, false, true)   // its second packet is lost
	frame(12000, false, false) // refers to a lost frame: left out
	frame(15000, true, false)  // keyframe: written
	if asked == 0 {
		t.Error("no keyframe asked for")
	}
	b := buf.Bytes()
	if string(b[:4]) != "DKIF" || string(b[8:12]) != "VP80" {
		t.Fatalf("header %q", b[:12])
	}
	var pts []uint64
	for off := 32; off+12 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		pts = append(pts, binary.LittleEndian.Uint64(b[off+4:]))
		off += 12 + n
	}
	if len(pts) != 3 || pts[0] != 0 || pts[1] != 3000 || pts[2] != 12000 {
		t.Errorf("frames at %v, want [0 3000 12000] (90 kHz from the first keyframe)", pts)
	}
	if _, dur, _ := scanIVF(bytes.NewReader(b)); dur != 12000.0/90000 {
		t.Errorf("scan: %.4f s", dur)
	}
}

// TestFinalizeCutsTornTails: after a crash, a file ending in half a page
// (Ogg) or half a frame (IVF) is cut back to its last whole one, the
// manifest completed and marked interrupted; running it again changes
// nothing.
func TestFinalizeCutsTornTails(t *testing.T) {
	st := objects.Disk{Dir: t.TempDir()}
	var ogg bytes.Buffer
	o := newOggOpus(&ogg, 1)
	for i := range 100 {
		o.write(opusPacket(uint16(i), uint32(i*960)))
	}
	o.flush()
	whole := ogg.Len()
	torn := append(ogg.Bytes(), "OggS\x00\x00garbage"...)
	var ivf bytes.Buffer
	v := newIVFVP8(&ivf, func() {})
	v.write(vp8(1, 0, true, true, true))
	v.write(vp8(2, 9000, true, true, false))
	ivfWhole := ivf.Len()
	ivfTorn := append(ivf.Bytes(), 200, 0, 0, 0, 1, 2, 3)
	man := &Manifest{Version: 1, MeetingID: "MT_x", Sessions: []Session{{Start: 1}},
		Files: []File{{Name: "P1-microphone-1.ogg", Format: "ogg", Start: 1, End: 1.5, Bytes: 100, Open: true},
			{Name: "P1-camera-1.ivf", Format: "ivf", Start: 1.2, End: 1.2, Bytes: 10, Open: true}}}
	b, _ := man.encode()
	st.Put(ManifestKey("MT_x"), b)
	os.WriteFile(filepath.Join(st.Dir, "MT_x", "P1-microphone-1.ogg"), torn, 0o600)
	os.WriteFile(filepath.Join(st.Dir, "MT_x", "P1-camera-1.ivf"), ivfTorn, 0o600)
	// Another node sharing the storage records MT_y right now: not this
	// node's to finalize.
	other, _ := (&Manifest{Version: 1, MeetingID: "MT_y", Node: "node-b", Sessions: []Session{{Start: 1}}}).encode()
	st.Put(ManifestKey("MT_y"), other)
	if ids, err := Unfinished(st, "node-a"); err != nil || len(ids) != 1 || ids[0] != "MT_x" {
		t.Fatalf("unfinished on node-a: %v %v", ids, err)
	}
	if ids, err := Unfinished(st, "node-b"); err != nil || len(ids) != 2 {
		t.Fatalf("unfinished on node-b: %v %v, want MT_x (no node) and MT_y", ids, err)
	}
	for range 2 {
		if err := Finalize(st, "MT_x", false); err != nil {
			t.Fatal(err)
		}
		got, err := ReadManifest(st, "MT_x")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Complete || !got.Interrupted || got.Files[0].Open || got.Sessions[0].End == nil {
			t.Fatalf("manifest: %+v", got)
		}
		if f := got.Files[0]; f.Bytes != int64(whole) || f.End != 3 {
			t.Errorf("ogg: %d bytes (want %d), end %.3f (want 3: 1 + 2 s)", f.Bytes, whole, f.End)
		}
		if f := got.Files[1]; f.Bytes != int64(ivfWhole) || f.End != 1.3 {
			t.Errorf("ivf: %d bytes (want %d), end %.3f (want 1.3)", f.Bytes, ivfWhole, f.End)
		}
		if fi, _ := os.Stat(filepath.Join(st.Dir, "MT_x", "P1-microphone-1.ogg")); fi.Size() != int64(whole) {
			t.Errorf("ogg file is %d bytes, want %d", fi.Size(), whole)
		}
	}
	if ids, _ := Unfinished(st, "node-a"); len(ids) != 0 {
		t.Errorf("still unfinished: %v", ids)
	}
}

// deletingStore deletes a meeting's folder once Finalize has cut a
// file's torn tail: a DELETE of the meeting racing its finalisation.
type deletingStore struct {
	objects.Disk
	meeting string
}

func (d deletingStore) Truncate(key string, size int64) error {
	err := d.Disk.Truncate(key, size)
	if _, derr := d.Disk.DeletePrefix(d.meeting); derr != nil {
		panic(derr)
	}
	return err
}

func (d deletingStore) Replace(key string, data []byte) error { return d.Disk.Replace(key, data) }

// TestFinalizeKeepsADeletedMeetingDeleted: a meeting deleted while its
// recording is being finalised stays deleted: the manifest is not
// written back into a folder made again (seen in CI: "the recording is
// still on disk" after the DELETE answered 204).
func TestFinalizeKeepsADeletedMeetingDeleted(t *testing.T) {
	disk := objects.Disk{Dir: t.TempDir()}
	man := &Manifest{Version: 1, MeetingID: "MT_y", Sessions: []Session{{Start: 1}},
		Files: []File{{Name: "P1-microphone-1.ogg", Format: "ogg", Start: 1, End: 1.5, Bytes: 100, Open: true}}}
	b, _ := man.encode()
	disk.Put(ManifestKey("MT_y"), b)
	os.WriteFile(filepath.Join(disk.Dir, "MT_y", "P1-microphone-1.ogg"), []byte("OggS"), 0o600)
	if err := Finalize(deletingStore{disk, "MT_y"}, "MT_y", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(disk.Dir, "MT_y")); !os.IsNotExist(err) {
		t.Fatalf("the deleted meeting's folder is back: %v", err)
	}
}

// FuzzWriters feeds arbitrary RTP payloads (what a client may send) to
// every writer: nothing panics, and what the Ogg writer writes scans
// whole.
func FuzzWriters(f *testing.F) {
	f.Add([]byte{0x48, 1, 2, 3, 0x10, 0, 1, 2, 0x7c, 0x85, 0xb8})
	f.Fuzz(func(t *testing.T, data []byte) {
		var a, b, c bytes.Buffer
		o, v, h := newOggOpus(&a, 1), newIVFVP8(&b, func() {}), newAnnexB(&c, func() {})
		for i := 0; i+4 <= len(data); i += 4 {
			n := int(data[i]) % 16
			end := min(len(data), i+4+n)
			p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(data[i+1]), Timestamp: uint32(data[i+2]) * 960,
				Marker: data[i+3]&1 == 1}, Payload: data[i+4 : end]}
			o.write(p)
			v.write(p)
			h.write(p)
		}
		o.close()
		if valid, _, _ := scanOgg(bytes.NewReader(a.Bytes())); valid != int64(a.Len()) {
			t.Fatalf("ogg writer wrote %d bytes, %d scan as pages", a.Len(), valid)
		}
	})
}
