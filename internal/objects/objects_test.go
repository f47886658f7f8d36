package objects

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestDisk: objects are written, replaced whole, listed, read and
// deleted by prefix; keys that could leave the directory are refused;
// temporary files of an interrupted Put are neither listed nor kept.
func TestDisk(t *testing.T) {
	d := Disk{Dir: t.TempDir()}
	for _, bad := range []string{"", "/abs", "../up", "a/../../b", "a//b", "a/./b", "sp ace", "a\\b", "é"} {
		if _, err := d.Create(bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("key %q: %v", bad, err)
		}
	}
	w, err := d.Create("MT_a/x.ogg")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello"))
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := d.Put("MT_a/manifest.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := d.Put("MT_a/manifest.json", []byte(`{"v":2}`)); err != nil {
		t.Fatal(err)
	}
	d.Put("MT_b/manifest.json", []byte("{}"))
	os.WriteFile(filepath.Join(d.Dir, "MT_a", ".put-123"), []byte("half"), 0o600)
	list, err := d.List("MT_a")
	if err != nil || len(list) != 2 || list[0].Key != "MT_a/manifest.json" || list[1].Key != "MT_a/x.ogg" || list[1].Size != 5 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if all, _ := d.List(""); len(all) != 3 {
		t.Errorf("list all: %+v", all)
	}
	rd, err := d.Open("MT_a/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rd)
	rd.Close()
	if string(b) != `{"v":2}` {
		t.Errorf("read %q", b)
	}
	if _, err := d.Open("MT_a/none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing object: %v", err)
	}
	if n := d.CleanTemp(); n != 1 {
		t.Errorf("temporary files removed: %d", n)
	}
	if _, err := d.DeletePrefix(""); err == nil {
		t.Error("deleting everything at once was allowed")
	}
	if n, err := d.DeletePrefix("MT_a"); err != nil || n != 2 {
		t.Errorf("delete: %d %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(d.Dir, "MT_a")); !os.IsNotExist(err) {
		t.Errorf("folder left: %v", err)
	}
	if all, _ := d.List(""); len(all) != 1 {
		t.Errorf("after delete: %+v", all)
	}
}

// TestReplaceNeverBringsBackADeletedObject: Replace rewrites an object
// that exists, and writes nothing, folder included, for one that does
// not; Truncate of a missing object is ErrNotFound.
func TestReplaceNeverBringsBackADeletedObject(t *testing.T) {
	d := Disk{Dir: t.TempDir()}
	if err := d.Put("MT_a/manifest.json", []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := d.Replace("MT_a/manifest.json", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(d.Dir, "MT_a", "manifest.json")); string(b) != "new" {
		t.Fatalf("replaced content %q", b)
	}
	if err := d.Replace("MT_a/other.json", []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replace of a missing object: %v", err)
	}
	if l, _ := d.List("MT_a"); len(l) != 1 {
		t.Fatalf("after a refused replace the folder holds %v", l)
	}
	if _, err := d.DeletePrefix("MT_a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Replace("MT_a/manifest.json", []byte("again")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replace in a deleted folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.Dir, "MT_a")); !os.IsNotExist(err) {
		t.Fatalf("the deleted folder is back: %v", err)
	}
	if err := d.Truncate("MT_a/manifest.json", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("truncate of a missing object: %v", err)
	}
}
