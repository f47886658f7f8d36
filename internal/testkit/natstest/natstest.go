// Package natstest runs real NATS servers (github.com/nats-io/nats-server)
// in the test process: a cluster of n servers with JetStream on loopback
// ports, its storage in temporary directories.
package natstest

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parleyhq/parley/internal/testkit/ports"
)

// Cluster is n NATS servers routed to each other.
type Cluster struct {
	Servers []*server.Server
	opts    []*server.Options
}

// Start starts n servers (1 for a lone server) and waits until
// JetStream answers; they stop at the end of the test.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	routePorts := make([]int, n)
	for i := range routePorts {
		routePorts[i] = ports.Free(t)
	}
	for i := range n {
		o := &server.Options{ServerName: fmt.Sprintf("nats-%d", i), Host: "127.0.0.1", Port: ports.Free(t),
			JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "parley-test", Host: "127.0.0.1", Port: routePorts[i]}
			for j, p := range routePorts {
				if j != i {
					o.Routes = append(o.Routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
				}
			}
		}
		c.opts = append(c.opts, o)
		c.Servers = append(c.Servers, nil)
		c.StartServer(t, i)
	}
	t.Cleanup(c.Stop)
	c.waitJetStream(t)
	return c
}

// StartServer (re)starts server i with its options and storage.
func (c *Cluster) StartServer(t testing.TB, i int) {
	t.Helper()
	s, err := server.NewServer(c.opts[i])
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats server %d did not start", i)
	}
	c.Servers[i] = s
}

// StopServer stops server i (its storage stays for a restart).
func (c *Cluster) StopServer(i int) {
	if s := c.Servers[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.Servers[i] = nil
	}
}

// Stop stops every server.
func (c *Cluster) Stop() {
	for i := range c.Servers {
		c.StopServer(i)
	}
}

// URLs are the client URLs of the servers.
func (c *Cluster) URLs() []string {
	var out []string
	for _, o := range c.opts {
		out = append(out, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return out
}

// waitJetStream waits until a replicated bucket can be made (the
// servers elected a JetStream leader).
func (c *Cluster) waitJetStream(t testing.TB) {
	t.Helper()
	nc, err := nats.Connect(c.URLs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "natstest_ready", Replicas: len(c.opts)})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: JetStream not ready: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
