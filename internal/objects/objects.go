// Package objects keeps files by key: recordings and their manifests
// today, uploads later. A key is a slash-separated relative path of
// plain names ("MT_abc/manifest.json"). Disk is the local
// implementation; the Store interface is what an S3-compatible bucket
// implements when several machines share storage: objects written
// progressively (a recording) are flushed in parts by Sync, small ones
// are replaced whole by Put.
package objects

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrBadKey rejects a key that is not a relative path of plain names.
var ErrBadKey = errors.New("objects: bad key")

// ErrNotFound is returned for a key that holds no object.
var ErrNotFound = errors.New("objects: not found")

// Store keeps objects.
type Store interface {
	// Create starts a new object written progressively.
	Create(key string) (Writer, error)
	// Put replaces an object whole and atomically: a reader sees the old
	// content or the new, never a mix.
	Put(key string, data []byte) error
	// PutFrom is Put from a reader of size bytes (a large file), streamed:
	// memory stays bounded whatever the size.
	PutFrom(key string, r io.Reader, size int64) error
	// Open reads an object.
	Open(key string) (io.ReadCloser, error)
	// List returns the objects under prefix (a key's folder; "" for
	// all), by key.
	List(prefix string) ([]Info, error)
	// DeletePrefix removes every object under prefix and returns how
	// many there were.
	DeletePrefix(prefix string) (int, error)
}

// Writer is an object being written.
type Writer interface {
	io.Writer
	// Sync makes what was written durable: after it returns, a crash of
	// the process or the machine keeps it.
	Sync() error
	Close() error
}

// Info describes a stored object.
type Info struct {
	Key  string
	Size int64
}

// CheckKey validates a key: slash-separated names of letters, digits,
// '.', '-' and '_', none of them "." or "..", at most 200 bytes.
func CheckKey(key string) error {
	if key == "" || len(key) > 200 {
		return fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("%w: %q", ErrBadKey, key)
		}
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
				return fmt.Errorf("%w: %q", ErrBadKey, key)
			}
		}
	}
	return nil
}

// Disk keeps objects as files under a directory.
type Disk struct {
	Dir string
}

var _ Store = Disk{}

func (d Disk) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.Dir, filepath.FromSlash(key)), nil
}

// Create implements Store; an existing object of that key is replaced.
func (d Disk) Create(key string) (Writer, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return nil, err
	}
	return os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
}

// Put implements Store: a temporary file, synced, renamed over the key.
func (d Disk) Put(key string, data []byte) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	return writeRenamed(p, bytes.NewReader(data), nil)
}

// PutFrom implements Store.
func (d Disk) PutFrom(key string, r io.Reader, _ int64) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	return writeRenamed(p, r, nil)
}

// writeRenamed writes data to a temporary file beside p, makes it
// durable and renames it over p, once check (if any) allows; the
// temporary file goes on any failure.
func writeRenamed(p string, data io.Reader, check func() error) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(f, data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && check != nil {
		err = check()
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// Open implements Store.
func (d Disk) Open(key string) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return f, err
}

// List implements Store ("" lists every object); temporary files of an
// unfinished Put are not objects.
func (d Disk) List(prefix string) ([]Info, error) {
	root := d.Dir
	if prefix != "" {
		var err error
		if root, err = d.path(prefix); err != nil {
			return nil, err
		}
	}
	var out []Info
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".put-") {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(d.Dir, p)
		if err != nil {
			return err
		}
		out = append(out, Info{Key: filepath.ToSlash(rel), Size: fi.Size()})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, err
}

// DeletePrefix implements Store.
func (d Disk) DeletePrefix(prefix string) (int, error) {
	root, err := d.path(prefix) // never "": not everything at once
	if err != nil {
		return 0, err
	}
	list, err := d.List(prefix)
	if err != nil {
		return 0, err
	}
	if err := os.RemoveAll(root); err != nil {
		return 0, err
	}
	return len(list), nil
}

// CleanTemp removes the temporary files an interrupted Put left (a
// crash between write and rename); it returns how many.
func (d Disk) CleanTemp() int {
	n := 0
	filepath.WalkDir(d.Dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasPrefix(e.Name(), ".put-") && os.Remove(p) == nil {
			n++
		}
		return nil
	})
	return n
}

// Replacer is a Store that can replace an object only if it still exists:
// work on an object (a recording finalised after its meeting) must not
// bring it back once it has been deleted meanwhile.
type Replacer interface {
	// Replace is Put for an existing object; ErrNotFound when it (or its
	// folder) is gone, and then nothing is written.
	Replace(key string, data []byte) error
}

// Replace implements Replacer: the new content is written beside the
// object, in its folder (never recreated), and renamed over it if it is
// still there. A delete that races the rename removes the new content
// with the folder.
func (d Disk) Replace(key string, data []byte) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	gone := fmt.Errorf("%w: %s", ErrNotFound, key)
	err = writeRenamed(p, bytes.NewReader(data), func() error {
		if _, err := os.Stat(p); err != nil {
			return gone
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return gone // the folder is gone
	}
	return err
}

// Truncater is a Store that can cut an object short (a torn tail left by
// a crash). A bucket, which cannot, rewrites the object instead.
type Truncater interface {
	Truncate(key string, size int64) error
}

// Truncate implements Truncater.
func (d Disk) Truncate(key string, size int64) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Truncate(p, size); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	} else if err != nil {
		return err
	}
	return nil
}

// Under is st seen from a folder: every key is prefix/key. Uploads and
// recordings share one bucket this way.
func Under(st Store, prefix string) Store { return under{st, prefix} }

type under struct {
	st     Store
	prefix string
}

func (u under) key(k string) string { return u.prefix + "/" + k }

func (u under) Create(key string) (Writer, error)       { return u.st.Create(u.key(key)) }
func (u under) Put(key string, data []byte) error       { return u.st.Put(u.key(key), data) }
func (u under) Open(key string) (io.ReadCloser, error)  { return u.st.Open(u.key(key)) }
func (u under) DeletePrefix(prefix string) (int, error) { return u.st.DeletePrefix(u.key(prefix)) }

func (u under) PutFrom(key string, r io.Reader, size int64) error {
	return u.st.PutFrom(u.key(key), r, size)
}

func (u under) List(prefix string) ([]Info, error) {
	p := u.prefix
	if prefix != "" {
		p = u.key(prefix)
	}
	list, err := u.st.List(p)
	for i := range list {
		list[i].Key = strings.TrimPrefix(list[i].Key, u.prefix+"/")
	}
	return list, err
}
