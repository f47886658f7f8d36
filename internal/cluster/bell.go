package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Auth is how a process proves itself to NATS: a credentials file (a JWT
// and its NKey seed, decentralised auth) or an NKey seed file alone.
type Auth struct {
	CredsFile string
	NKeyFile  string
}

func (a Auth) options() ([]nats.Option, error) {
	switch {
	case a.CredsFile != "" && a.NKeyFile != "":
		return nil, errors.New("cluster: a credentials file or an NKey seed, not both")
	case a.CredsFile != "":
		return []nats.Option{nats.UserCredentials(a.CredsFile)}, nil
	case a.NKeyFile != "":
		o, err := nats.NkeyOptionFromSeed(a.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("cluster: nkey: %w", err)
		}
		return []nats.Option{o}, nil
	}
	return nil, nil
}

// The job bell's work queue.
const (
	JobsStream   = "PARLEY_JOBS"
	jobsSubject  = "parley.jobs.queued"
	jobsConsumer = "runners"
)

// Bell hands the job runners of every node and worker a token each time
// a job that any of them may run is queued: a JetStream work queue
// (stream PARLEY_JOBS), each token taken by one runner, which then claims
// the next due job. The queue of jobs itself is the store, where a job
// commits with the data it concerns (an upload's meeting, a meeting's
// end) and a claim takes a lease that another runner takes over when its
// holder dies; runners also look there every second, so a token lost
// (NATS down) costs that second, and a token taken by a runner that may
// not run the job (one tied to another node's disk) costs nothing.
type Bell struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	stop    chan struct{}
	wg      sync.WaitGroup
	stopped sync.Once
}

// DialBell connects to NATS as name and makes (or opens) the work
// queue; heard, when set, is called for each token this process takes.
func DialBell(ctx context.Context, urls []string, auth Auth, name string, heard func()) (*Bell, error) {
	opts, err := auth.options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second))
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	replicas := 1
	if len(nc.Servers()) >= 3 {
		replicas = 3
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: JobsStream, Subjects: []string{jobsSubject},
		Retention: jetstream.WorkQueuePolicy, MaxAge: time.Hour, MaxMsgs: 100000, Discard: jetstream.DiscardOld, Replicas: replicas,
		Description: "Parley: a token per job queued in the store, each taken by one runner"})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: %s stream: %w", JobsStream, err)
	}
	b := &Bell{nc: nc, js: js, stop: make(chan struct{})}
	if heard != nil {
		cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: jobsConsumer, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: 30 * time.Second, MaxDeliver: 3})
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("cluster: %s consumer: %w", JobsStream, err)
		}
		b.wg.Go(func() { b.take(cons, heard) })
	}
	return b, nil
}

// take takes tokens, one at a time, until Close.
func (b *Bell) take(cons jetstream.Consumer, heard func()) {
	for {
		select {
		case <-b.stop:
			return
		default:
		}
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			select {
			case <-b.stop:
				return
			case <-time.After(time.Second): // NATS down or moving: the poll covers it
			}
			continue
		}
		for m := range batch.Messages() {
			m.Ack()
			heard()
		}
	}
}

// Ring puts a token in the queue: a job is queued.
func (b *Bell) Ring() {
	if b != nil {
		b.js.PublishAsync(jobsSubject, nil) // never waits for the server: a lost token costs a second
	}
}

// Close stops taking tokens and disconnects.
func (b *Bell) Close() {
	if b != nil {
		b.stopped.Do(func() {
			close(b.stop)
			b.wg.Wait()
			b.nc.Close()
		})
	}
}
