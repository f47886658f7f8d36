package objects

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/parleyhq/parley/internal/testkit/s3test"
)

func newS3(t *testing.T) *S3 {
	t.Helper()
	srv := s3test.Bucket(t, "recordings")
	s, err := NewS3(context.Background(), S3Config{Endpoint: srv.Endpoint, Bucket: "recordings", Region: "us-east-1",
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readAll(t *testing.T, st Store, key string) []byte {
	t.Helper()
	rd, err := st.Open(key)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestS3 runs what TestDisk checks against a real S3-compatible server
// (s3test), and what a bucket does differently: an object written
// progressively is readable, and listed, as far as it was synced before
// it is closed — also when its writer dies — and is one object once
// closed; a large one never sits whole in memory (chunks of chunkSize).
func TestS3(t *testing.T) {
	s := newS3(t)
	if _, err := NewS3(context.Background(), S3Config{Endpoint: "127.0.0.1:1", Bucket: "x", Insecure: true}); err == nil {
		t.Error("no server: no error")
	}
	for _, bad := range []string{"", "/abs", "../up", "a//b", "sp ace", "a~00000001"} {
		if _, err := s.Create(bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("key %q: %v", bad, err)
		}
	}
	s.chunkSize = 64 << 10
	w, err := s.Create("MT_a/x.ogg")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 300<<10) // several chunks
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	w.Write(data[:1000])
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	// Synced, not closed: what a reader, or the finalize job after a
	// crash, sees.
	if got := readAll(t, s, "MT_a/x.ogg"); !bytes.Equal(got, data[:1000]) {
		t.Fatalf("synced: read %d bytes", len(got))
	}
	if l, err := s.List("MT_a"); err != nil || len(l) != 1 || l[0].Key != "MT_a/x.ogg" || l[0].Size != 1000 {
		t.Fatalf("list while written: %+v %v", l, err)
	}
	w.Write(data[1000:])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, "MT_a/x.ogg"); !bytes.Equal(got, data) {
		t.Fatalf("closed: read %d bytes of %d", len(got), len(data))
	}
	if l, _ := s.List("MT_a"); len(l) != 1 || l[0].Size != int64(len(data)) {
		t.Fatalf("list after close: %+v", l)
	}

	if err := s.Put("MT_a/manifest.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("MT_a/manifest.json", []byte(`{"v":2}`)); err != nil {
		t.Fatal(err)
	}
	s.Put("MT_b/manifest.json", []byte("{}"))
	if string(readAll(t, s, "MT_a/manifest.json")) != `{"v":2}` {
		t.Error("put did not replace")
	}
	if _, err := s.Open("MT_a/none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing object: %v", err)
	}
	if all, _ := s.List(""); len(all) != 3 {
		t.Errorf("list all: %+v", all)
	}

	// A writer that dies after a sync (never closed) leaves its chunks;
	// Truncate (the finalize job cutting a torn tail) makes them one
	// object of the length asked.
	w, _ = s.Create("MT_b/y.ivf")
	w.Write(data[:5000])
	w.Sync()
	w.Write(data[5000:9000]) // never synced: lost with the writer
	if err := s.Truncate("MT_b/y.ivf", 4096); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, "MT_b/y.ivf"); !bytes.Equal(got, data[:4096]) {
		t.Fatalf("truncated: %d bytes", len(got))
	}
	if l, _ := s.List("MT_b"); len(l) != 2 {
		t.Fatalf("after truncate: %+v", l)
	}

	if err := s.Replace("MT_a/manifest.json", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if string(readAll(t, s, "MT_a/manifest.json")) != "new" {
		t.Error("replace")
	}
	// Replace writes only over the version it checked (If-Match): the
	// server must refuse a stale one, or a delete racing a replace could
	// be undone.
	var stale minio.PutObjectOptions
	stale.SetMatchETag(`"0123456789abcdef0123456789abcdef"`)
	if err := s.put("MT_a/manifest.json", []byte("stale"), stale); err == nil {
		t.Error("the server ignored If-Match")
	}
	if err := s.Replace("MT_a/other.json", []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("replace of a missing object: %v", err)
	}
	if _, err := s.DeletePrefix(""); err == nil {
		t.Error("deleting everything at once was allowed")
	}
	if n, err := s.DeletePrefix("MT_a"); err != nil || n != 2 {
		t.Errorf("delete: %d %v", n, err)
	}
	if err := s.Replace("MT_a/manifest.json", []byte("again")); !errors.Is(err, ErrNotFound) {
		t.Errorf("replace after delete: %v", err)
	}
	if err := s.Truncate("MT_a/x.ogg", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("truncate of a deleted object: %v", err)
	}
	if all, _ := s.List(""); len(all) != 2 {
		t.Errorf("after delete: %+v", all)
	}
}

// TestPutFromUnder: a large object streamed from a reader (an upload of
// several parts on S3) reads back byte for byte, in a folder of the
// store (Under) that lists, opens and deletes only its own objects, on
// disk and on S3.
func TestPutFromUnder(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   Store
	}{{"disk", Disk{Dir: t.TempDir()}}, {"s3", newS3(t)}} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, 40<<20+12345) // three 16 MiB parts, the last short
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			if err := tc.st.Put("MT_a/manifest.json", []byte("{}")); err != nil {
				t.Fatal(err)
			}
			up := Under(tc.st, "uploads")
			if err := up.PutFrom("MT_a/audio", bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, up, "MT_a/audio"); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, not what was put (%d)", len(got), len(data))
			}
			if list, err := up.List(""); err != nil || len(list) != 1 || list[0].Key != "MT_a/audio" || list[0].Size != int64(len(data)) {
				t.Fatalf("list under uploads: %+v %v", list, err)
			}
			if n, err := up.DeletePrefix("MT_a"); err != nil || n != 1 {
				t.Fatalf("delete under uploads: %d %v", n, err)
			}
			if _, err := up.Open("MT_a/audio"); !errors.Is(err, ErrNotFound) {
				t.Errorf("deleted upload: %v", err)
			}
			if got := readAll(t, tc.st, "MT_a/manifest.json"); string(got) != "{}" {
				t.Errorf("the store's own MT_a/manifest.json: %q", got)
			}
		})
	}
}
