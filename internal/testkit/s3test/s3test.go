// Package s3test runs a real S3-compatible server for tests: Versity's
// gateway (github.com/versity/versitygw, Apache-2.0) with its POSIX
// backend, built from tools/s3server (a module of its own) on first use
// and kept in the user cache, listening on a loopback port, its buckets
// directories in a temporary directory.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the gateway's version, as tools/s3server/go.mod pins it.
const Version = "v1.8.0"

// Server is one running gateway.
type Server struct {
	Endpoint             string // 127.0.0.1:port
	AccessKey, SecretKey string
	dir                  string
	cmd                  *exec.Cmd
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the gateway once per machine (per version).
func binary() (string, error) {
	buildOnce.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		binPath = filepath.Join(cache, "parley", "versitygw-"+Version)
		if _, err := os.Stat(binPath); err == nil {
			return
		}
		_, file, _, _ := runtime.Caller(0)
		mod := filepath.Join(filepath.Dir(file), "..", "..", "..", "tools", "s3server")
		tmp := binPath + fmt.Sprintf(".%d", os.Getpid())
		cmd := exec.Command("go", "build", "-o", tmp, "github.com/versity/versitygw/cmd/versitygw")
		cmd.Dir = mod
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("s3test: building the S3 server in %s: %v\n%s", mod, err, out)
			return
		}
		buildErr = os.Rename(tmp, binPath)
	})
	return binPath, buildErr
}

// Start starts a gateway on a free loopback port with a fresh root key.
func Start(ctx context.Context) (*Server, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "parley-s3test-")
	if err != nil {
		return nil, err
	}
	key := make([]byte, 20)
	rand.Read(key)
	s := &Server{AccessKey: "parley" + hex.EncodeToString(key[:6]), SecretKey: hex.EncodeToString(key), dir: dir}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Endpoint = l.Addr().String()
	l.Close()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "--port", s.Endpoint, "posix", data)
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(dir, "gateway.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("s3test: %w", err)
	}
	c, err := s.Client()
	if err != nil {
		s.Stop()
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err := c.ListBuckets(ctx)
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "gateway.log"))
			s.Stop()
			return nil, fmt.Errorf("s3test: the gateway did not come up: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Client is a client of the gateway as its root user.
func (s *Server) Client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: "us-east-1"})
}

// Stop ends the gateway and removes its buckets.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(s.dir)
}

// Bucket starts a gateway for the test (stopped at its end) and makes a
// bucket in it.
func Bucket(t testing.TB, name string) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return s
}
