package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/pgtest"
)

// TestMain lets tests run the real binary: the test executable re-runs
// itself as `parley` when PARLEY_RUN_MAIN is set.
func TestMain(m *testing.M) {
	if os.Getenv("PARLEY_RUN_MAIN") == "1" {
		main()
		return
	}
	pgtest.Main(m) // runs the tests, then stops the PostgreSQL server they started
}

func parley(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PARLEY_RUN_MAIN=1")
	return cmd
}

func TestVersionAndUsage(t *testing.T) {
	out, err := parley("version").Output()
	if err != nil || !strings.HasPrefix(string(out), "parley ") {
		t.Fatalf("version: %q %v", out, err)
	}
	cmd := parley("no-such-command")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "unknown command") {
		t.Fatalf("unknown command: %v %q", err, stderr.String())
	}
	cmd = parley("serve", "--udp-port", "notaport")
	if err := cmd.Run(); err == nil {
		t.Fatal("serve accepted a bad flag")
	}
}

var servingURL = regexp.MustCompile(`msg="parley serving" url=(\S+)`)

// startServe runs `parley serve` on loopback (ICE-TCP on tcpPort) and
// returns it with the URL it announces; the process is killed when the
// test ends.
func startServe(t *testing.T, dataDir, tcpPort string, wait time.Duration) (*exec.Cmd, string) {
	t.Helper()
	cmd := parley("serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--udp-port", "0", "--tcp-port", tcpPort,
		"--ice-interfaces", "lo", "--media-ip", "127.0.0.1", "--metrics-listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingURL.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case base := <-urlc:
		return cmd, base
	case <-time.After(wait):
		t.Fatal("server did not start")
	}
	return nil, ""
}

// TestServeStopsOnSIGTERM runs `parley serve`, joins it, sends SIGTERM and
// checks that the participant is told and the process exits cleanly
// within 10 s (a service manager's usual stop timeout before SIGKILL).
func TestServeStopsOnSIGTERM(t *testing.T) {
	cmd, base := startServe(t, t.TempDir(), "0", 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, base, client.Options{KeepMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Drop()
	if _, err := c.Join(ctx, "sigterm-test", "Ada"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitFor(ctx, func(m client.Message) bool { return m.Type == "bye" && m.Reason == "server_shutdown" }); err != nil {
		t.Errorf("participant not told: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	t.Logf("exited %v after SIGTERM", time.Since(t0).Round(time.Millisecond))
}
