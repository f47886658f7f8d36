package cluster

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// bellSubject carries the job bell's rings.
const bellSubject = "parley.jobs.queued"

// Bell wakes the job runners of every node and worker when a job that
// any of them may run is queued. The queue itself is the store, where a
// job commits with the data it concerns (an upload's meeting, a
// meeting's end); runners poll it, and the bell only saves them the wait.
// A ring lost (NATS down) costs that wait, nothing more.
type Bell struct {
	nc *nats.Conn
}

// DialBell connects to NATS as name; heard, when set, is called at each
// ring (this process's own included).
func DialBell(urls []string, creds, name string, heard func()) (*Bell, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true)}
	if creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: nats: %w", err)
	}
	if heard != nil {
		if _, err := nc.Subscribe(bellSubject, func(*nats.Msg) { heard() }); err != nil {
			nc.Close()
			return nil, fmt.Errorf("cluster: job bell: %w", err)
		}
	}
	return &Bell{nc: nc}, nil
}

// Ring tells every runner that a job is queued.
func (b *Bell) Ring() {
	if b != nil {
		b.nc.Publish(bellSubject, nil)
	}
}

// Close disconnects.
func (b *Bell) Close() {
	if b != nil {
		b.nc.Close()
	}
}
