package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 keeps objects in a bucket of an S3-compatible server, for nodes that
// share storage.
//
// A bucket cannot append, so an object written progressively (Create) is
// kept as numbered chunks while it is written: each Sync, and each
// chunkSize bytes, stores what came since as one more chunk object
// ("key~00000001", …; '~' is never in a key, so chunks never collide
// with objects). What was synced survives a crash of the writer like a
// synced file does, and memory stays one chunk per writer whatever the
// length of the recording. Close streams the chunks into the object
// (a multipart upload) and deletes them. Until then, and after a crash,
// List and Open present the chunks as the object.
type S3 struct {
	c      *minio.Client
	bucket string
	// chunkSize bounds what a writer holds in memory (default 8 MiB).
	chunkSize int
}

// S3Config reaches a bucket.
type S3Config struct {
	Endpoint  string // host:port
	Bucket    string
	Region    string
	AccessKey string
	SecretKey string
	Insecure  bool // plain HTTP (a server on loopback or a private network)
}

// NewS3 connects to the bucket, which must exist.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.Insecure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("objects: s3: %w", err)
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("objects: s3 bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("objects: s3 bucket %s does not exist at %s", cfg.Bucket, cfg.Endpoint)
	}
	return &S3{c: c, bucket: cfg.Bucket, chunkSize: 8 << 20}, nil
}

// timeout bounds one request; a stalled server fails the call rather than
// holding a recording's writer forever.
const s3Timeout = 2 * time.Minute

func s3ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s3Timeout)
}

func chunkKey(key string, n int) string { return fmt.Sprintf("%s~%08d", key, n) }

// splitChunk returns the object a chunk key belongs to.
func splitChunk(name string) (key string, n int, ok bool) {
	i := strings.LastIndexByte(name, '~')
	if i < 0 || len(name)-i-1 != 8 {
		return "", 0, false
	}
	n, err := strconv.Atoi(name[i+1:])
	return name[:i], n, err == nil
}

func notFound(err error) bool {
	return minio.ToErrorResponse(err).StatusCode == http.StatusNotFound
}

// objectsUnder lists the bucket under prefix: whole objects and, apart,
// each progressive object's chunks in order.
func (s *S3) objectsUnder(ctx context.Context, prefix string) (whole map[string]int64, chunks map[string][]minio.ObjectInfo, err error) {
	whole, chunks = map[string]int64{}, map[string][]minio.ObjectInfo{}
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, nil, fmt.Errorf("objects: s3 list %s: %w", prefix, o.Err)
		}
		if k, _, ok := splitChunk(o.Key); ok {
			chunks[k] = append(chunks[k], o)
		} else {
			whole[o.Key] = o.Size
		}
	}
	for _, cs := range chunks {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Key < cs[j].Key })
	}
	return whole, chunks, nil
}

// folder is the listing prefix of a key's folder ("" for all).
func folder(prefix string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "/"
}

// List implements Store.
func (s *S3) List(prefix string) ([]Info, error) {
	if prefix != "" {
		if err := CheckKey(prefix); err != nil {
			return nil, err
		}
	}
	ctx, cancel := s3ctx()
	defer cancel()
	whole, chunks, err := s.objectsUnder(ctx, folder(prefix))
	if err != nil {
		return nil, err
	}
	for k, cs := range chunks {
		if _, done := whole[k]; done {
			continue // assembled; its chunks were being deleted
		}
		var n int64
		for _, c := range cs {
			n += c.Size
		}
		whole[k] = n
	}
	out := make([]Info, 0, len(whole))
	for k, n := range whole {
		out = append(out, Info{Key: k, Size: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Open implements Store: the object, or its chunks in order.
func (s *S3) Open(key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	ctx := context.Background()
	o, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err == nil {
		if _, err = o.Stat(); err == nil {
			return o, nil
		}
		o.Close()
	}
	if !notFound(err) {
		return nil, fmt.Errorf("objects: s3 open %s: %w", key, err)
	}
	lctx, cancel := s3ctx()
	defer cancel()
	_, chunks, err := s.objectsUnder(lctx, key+"~")
	if err != nil {
		return nil, err
	}
	cs := chunks[key]
	if len(cs) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return &chunkReader{s: s, chunks: cs}, nil
}

// chunkReader reads chunks one after the other, one open at a time.
type chunkReader struct {
	s      *S3
	chunks []minio.ObjectInfo
	cur    *minio.Object
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.chunks) == 0 {
				return 0, io.EOF
			}
			o, err := r.s.c.GetObject(context.Background(), r.s.bucket, r.chunks[0].Key, minio.GetObjectOptions{})
			if err != nil {
				return 0, err
			}
			r.cur, r.chunks = o, r.chunks[1:]
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur.Close()
			r.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (r *chunkReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}

// Put implements Store: one PUT, which a reader sees whole or not at all.
func (s *S3) Put(key string, data []byte) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	return s.put(key, data, minio.PutObjectOptions{})
}

func (s *S3) put(key string, data []byte, opts minio.PutObjectOptions) error {
	ctx, cancel := s3ctx()
	defer cancel()
	opts.DisableMultipart = true
	if _, err := s.c.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), opts); err != nil {
		return fmt.Errorf("objects: s3 put %s: %w", key, err)
	}
	return nil
}

// PutFrom implements Store: a multipart upload of size bytes read from r,
// 16 MiB parts, two in flight (what it holds in memory).
func (s *S3) PutFrom(key string, r io.Reader, size int64) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if _, err := s.c.PutObject(context.Background(), s.bucket, key, r, size,
		minio.PutObjectOptions{PartSize: 16 << 20, NumThreads: 2}); err != nil {
		return fmt.Errorf("objects: s3 put %s: %w", key, err)
	}
	return nil
}

// Replace implements Replacer: a conditional PUT (If-Match the object's
// current ETag), so that a delete between the check and the write is not
// undone where the server honours conditions.
func (s *S3) Replace(key string, data []byte) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	ctx, cancel := s3ctx()
	defer cancel()
	st, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if notFound(err) {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return fmt.Errorf("objects: s3 replace %s: %w", key, err)
	}
	var opts minio.PutObjectOptions
	opts.SetMatchETag(st.ETag)
	err = s.put(key, data, opts)
	if code := minio.ToErrorResponse(errors.Unwrap(err)).StatusCode; code == http.StatusPreconditionFailed || code == http.StatusNotFound {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return err
}

// DeletePrefix implements Store.
func (s *S3) DeletePrefix(prefix string) (int, error) {
	if err := CheckKey(prefix); err != nil { // never "": not everything at once
		return 0, err
	}
	list, err := s.List(prefix)
	if err != nil {
		return 0, err
	}
	ctx, cancel := s3ctx()
	defer cancel()
	return len(list), s.removeUnder(ctx, folder(prefix), func(string) bool { return true })
}

// removeUnder deletes the objects under prefix that keep says to.
func (s *S3) removeUnder(ctx context.Context, prefix string, keep func(name string) bool) error {
	names := make(chan minio.ObjectInfo)
	listErr := make(chan error, 1)
	go func() {
		defer close(names)
		for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err != nil {
				listErr <- o.Err
				return
			}
			if keep(o.Key) {
				names <- o
			}
		}
		listErr <- nil
	}()
	for e := range s.c.RemoveObjects(ctx, s.bucket, names, minio.RemoveObjectsOptions{}) {
		if e.Err != nil && !notFound(e.Err) {
			return fmt.Errorf("objects: s3 delete %s: %w", e.ObjectName, e.Err)
		}
	}
	if err := <-listErr; err != nil {
		return fmt.Errorf("objects: s3 delete under %s: %w", prefix, err)
	}
	return nil
}

// removeChunks deletes the chunks of key.
func (s *S3) removeChunks(ctx context.Context, key string) error {
	return s.removeUnder(ctx, key+"~", func(name string) bool {
		k, _, ok := splitChunk(name)
		return ok && k == key
	})
}

// Truncate implements Truncater by rewriting: the first size bytes of the
// object (or of its chunks, after a crash) become the object, and the
// chunks go.
func (s *S3) Truncate(key string, size int64) error {
	rd, err := s.Open(key)
	if err != nil {
		return err
	}
	defer rd.Close()
	ctx := context.Background()
	if _, err := s.c.PutObject(ctx, s.bucket, key, io.LimitReader(rd, size), size, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("objects: s3 truncate %s: %w", key, err)
	}
	return s.removeChunks(ctx, key)
}

// Create implements Store; an existing object of that key is replaced
// (at Close: until then readers see the old one).
func (s *S3) Create(key string) (Writer, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	ctx, cancel := s3ctx()
	defer cancel()
	if err := s.removeChunks(ctx, key); err != nil {
		return nil, err
	}
	return &s3Writer{s: s, key: key}, nil
}

type s3Writer struct {
	s      *S3
	key    string
	buf    []byte
	n      int   // chunks stored
	size   int64 // bytes stored in chunks
	err    error // the first failure: every later call reports it
	closed bool
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("objects: write after close")
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= w.s.chunkSize {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush stores what is buffered as the next chunk.
func (w *s3Writer) flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	w.n++
	if err := w.s.put(chunkKey(w.key, w.n), w.buf, minio.PutObjectOptions{}); err != nil {
		w.err = err
		return err
	}
	w.size += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// Sync implements Writer: what was written is a chunk in the bucket.
func (w *s3Writer) Sync() error { return w.flush() }

// Close implements Writer: the chunks become the object.
func (w *s3Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if err := w.flush(); err != nil {
		return err
	}
	rd := &chunkReader{s: w.s}
	for i := 1; i <= w.n; i++ {
		rd.chunks = append(rd.chunks, minio.ObjectInfo{Key: chunkKey(w.key, i)})
	}
	defer rd.Close()
	ctx := context.Background()
	if _, err := w.s.c.PutObject(ctx, w.s.bucket, w.key, rd, w.size, minio.PutObjectOptions{PartSize: 16 << 20}); err != nil {
		w.err = fmt.Errorf("objects: s3 assemble %s: %w", w.key, err)
		return w.err
	}
	w.buf = nil
	return w.s.removeChunks(ctx, w.key)
}
