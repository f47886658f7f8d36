package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := Load(fs, args, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil {
		err = cfg.Validate()
	}
	return cfg, err
}

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.Media.UDPPort != 7881 || cfg.ShutdownTimeout != 10*time.Second {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "parley.json")
	os.WriteFile(file, []byte(`{"listen":"127.0.0.1:1000","data-dir":"/from/file","media":{"udp-port":1001,"tcp-port":1002,"peer-timeout":"30s","ice-interfaces":["eth0"]}}`), 0o600)
	env := map[string]string{"PARLEY_UDP_PORT": "2001", "PARLEY_DATA_DIR": "/from/env", "PARLEY_ICE_INTERFACES": "lo, eth1"}
	cfg, err := load(t, []string{"--config", file, "--data-dir", "/from/flag"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:1000" {
		t.Errorf("listen from file: %q", cfg.Listen)
	}
	if cfg.Media.TCPPort != 1002 || cfg.Media.PeerTimeout != 30*time.Second {
		t.Errorf("media from file: %+v", cfg.Media)
	}
	if cfg.Media.UDPPort != 2001 {
		t.Errorf("env must override file: udp-port %d", cfg.Media.UDPPort)
	}
	if cfg.DataDir != "/from/flag" {
		t.Errorf("flag must override env: data-dir %q", cfg.DataDir)
	}
	if got := cfg.Media.ICEInterfaces; len(got) != 2 || got[0] != "lo" || got[1] != "eth1" {
		t.Errorf("ice-interfaces from env: %q", got)
	}
}

func TestFileRejectsUnknownKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(file, []byte(`{"media":{"udp-prot":1}}`), 0o600)
	_, err := load(t, []string{"--config", file}, nil)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "nohostport"},
		{"--udp-port", "70000"},
		{"--nat-ip", "not-an-ip"},
		{"--tls-cert", "x.pem"},
		{"--public-url", "ftp://x"},
		{"--log-level", "loud"},
		{"--ice-servers", "stun.example.org"},
		{"--peer-timeout", "1ms"},
		{"--turn-tls-port", "443"}, // no certificate
		{"--turn-udp-port", "70000"},
		{"--turn-udp-port", "3478", "--turn-credential-ttl", "1s"},
		{"--turn-tls-cert", "/etc/turn.crt"}, // no key
		{"--turn-ip", "turn.example.org"},
		{"--metrics-listen", "nohostport"},
		{"--metrics-token", "too-short"},
		{"--trusted-proxies", "10.0.0.0/33"},
		{"--trusted-proxies", "proxy.example.org"},
		{"--ip-sockets", "-1"},
		{"--ip-join-burst", "0"},
		{"--ip-rooms-per-minute", "-5"},
		{"--max-rooms", "0"},
		{"--max-participants", "-1"},
		{"--http-write-timeout", "10ms"},
	} {
		if _, err := load(t, args, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: want ErrInvalid, got %v", args, err)
		}
	}
	if _, err := load(t, []string{"--udp-port", "x"}, nil); err == nil {
		t.Error("bad integer flag accepted")
	}
	if _, err := load(t, nil, map[string]string{"PARLEY_UDP_PORT": "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad env: %v", err)
	}
}

func TestLimitDefaultsAndSources(t *testing.T) {
	cfg, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Limits
	if cfg.MetricsListen != "127.0.0.1:9464" || cfg.MetricsToken != "" || len(cfg.TrustedProxies) != 0 ||
		l.IPSockets != 50 || l.IPJoinsPerSecond != 5 || l.IPJoinBurst != 20 || l.IPRoomsPerMinute != 10 || l.IPRoomBurst != 10 ||
		l.MaxRooms != 1000 || l.MaxParticipants != 5000 || l.MaxTracks != 16 || l.MaxCandidates != 64 || l.MaxMediaSections != 32 ||
		l.HTTPReadTimeout != 30*time.Second || l.HTTPWriteTimeout != 30*time.Second || l.HTTPIdleTimeout != 120*time.Second {
		t.Fatalf("defaults: %+v %+v", cfg, l)
	}
	env := map[string]string{"PARLEY_METRICS_TOKEN": "0123456789abcdef", "PARLEY_TRUSTED_PROXIES": "10.0.0.0/8, fd00::1"}
	cfg, err = load(t, []string{"--metrics-listen", "", "--ip-joins-per-second", "0", "--ip-join-burst", "0", "--max-tracks", "6"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsListen != "" || cfg.MetricsToken != "0123456789abcdef" || cfg.Limits.IPJoinsPerSecond != 0 || cfg.Limits.MaxTracks != 6 {
		t.Fatalf("from flags and env: %+v", cfg)
	}
	if _, err := load(t, []string{"--max-candidates", "0"}, nil); err == nil || !strings.Contains(err.Error(), "max-candidates") {
		t.Errorf("--max-candidates 0: %v", err)
	}
	p, err := ParsePrefixes(cfg.TrustedProxies)
	if err != nil || len(p) != 2 || p[0].String() != "10.0.0.0/8" || p[1].String() != "fd00::1/128" {
		t.Fatalf("trusted proxies %q: %v %v", cfg.TrustedProxies, p, err)
	}
}

// TestStoreAndBucketSettings: PostgreSQL's URL and the bucket's keys come
// from the variables the documentation names (keys never from flags);
// a bucket without its keys, or keys without a bucket, is refused.
func TestStoreAndBucketSettings(t *testing.T) {
	env := map[string]string{"PARLEY_POSTGRES_URL": "postgres://parley@db/parley", "PARLEY_S3_ACCESS_KEY": "ak", "PARLEY_S3_SECRET_KEY": "sk"}
	cfg, err := load(t, []string{"--s3-endpoint", "s3.internal:9000", "--s3-bucket", "rec"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Postgres != env["PARLEY_POSTGRES_URL"] || cfg.S3AccessKey != "ak" || cfg.S3SecretKey != "sk" || cfg.S3Bucket != "rec" {
		t.Fatalf("%+v", cfg)
	}
	if _, err := load(t, []string{"--s3-secret-key", "x"}, nil); err == nil {
		t.Error("a secret key was taken from a flag")
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--s3-endpoint", "s3.internal:9000", "--s3-bucket", "rec"}, nil},
		{[]string{"--s3-endpoint", "https://s3.internal", "--s3-bucket", "rec"}, env},
		{[]string{"--s3-bucket", "rec"}, env},
	} {
		if _, err := load(t, c.args, c.env); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: want ErrInvalid, got %v", c.args, err)
		}
	}
}

// TestNodeSettings: --site-url, --jobs and the worker's validation.
func TestNodeSettings(t *testing.T) {
	env := map[string]string{"PARLEY_POSTGRES_URL": "postgres://parley@db/parley"}
	nodes := []string{"--nats", "nats://n1:4222", "--public-url", "https://n1.meet.example.org"}
	cfg, err := load(t, append(nodes, "--site-url", "https://meet.example.org/", "--jobs", "local"), env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Site() != "https://meet.example.org" || cfg.Jobs != "local" {
		t.Errorf("site %q, jobs %q", cfg.Site(), cfg.Jobs)
	}
	for _, args := range [][]string{
		{"--site-url", "https://meet.example.org"},                 // no --nats
		append(nodes, "--site-url", "meet.example.org"),            // no scheme
		append(nodes, "--site-url", "https://meet.example.org/x/"), // a path
		append(nodes, "--jobs", "some"),
		append(nodes, "--nats-creds", "/etc/parley/nats.creds", "--nats-nkey", "/etc/parley/nats.nk"),
		{"--nats-nkey", "/etc/parley/nats.nk"}, // no --nats
	} {
		if _, err := load(t, args, env); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: want ErrInvalid, got %v", args, err)
		}
	}
	// A worker needs the store, not a public URL.
	w := Default()
	w.NATS = []string{"nats://n1:4222"}
	if err := w.ValidateWorker(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "postgres") {
		t.Errorf("worker without --postgres: %v", err)
	}
	w.Postgres = env["PARLEY_POSTGRES_URL"]
	if err := w.ValidateWorker(); err != nil {
		t.Errorf("worker: %v", err)
	}
	if err := w.Validate(); err == nil {
		t.Error("a node with --nats and no --public-url validated")
	}
}
