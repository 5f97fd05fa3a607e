package svc

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/directory"
	"github.com/rivetgo/rivetgo/pkg/dispatch"
	"github.com/rivetgo/rivetgo/pkg/membership"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Mesh is what a service that calls actors (the gateway, the scheduler, the
// inspector) binds at start: the mesh's buckets, a view of the live hosts
// and a dispatcher over them.
type Mesh struct {
	JS    jetstream.JetStream
	KV    *buckets.Set
	Hosts *membership.HostView
	Disp  *dispatch.Dispatcher
	// Tracer, when set before [Mesh.Dispatch], records the dispatcher's
	// client spans (see dispatch.Config.Tracer).
	Tracer trace.Tracer
}

// OpenBuckets binds the mesh's JetStream buckets on nc (with cfg's policy)
// and returns a Mesh with only JS and KV set; [Mesh.Dispatch] adds the rest.
func OpenBuckets(ctx context.Context, nc *nats.Conn, names protocol.Names, cfg buckets.Config) (*Mesh, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	kv, err := buckets.Open(ctx, js, names, cfg)
	if err != nil {
		return nil, err
	}
	return &Mesh{JS: js, KV: kv}, nil
}

// Dispatch follows the hosts bucket in a goroutine added to wg until runCtx
// is done, waits (within setupCtx) until the view read the bucket, then
// makes a dispatcher on nc (close it with [Mesh.Close]; it starts no
// goroutine of its own).
func (m *Mesh) Dispatch(setupCtx, runCtx context.Context, wg *sync.WaitGroup, nc *nats.Conn, names protocol.Names, log zerolog.Logger) error {
	m.Hosts = membership.NewHostView(m.KV.Hosts, m.KV.HostTTL, log)
	wg.Go(func() { _ = m.Hosts.Run(runCtx) })
	select {
	case <-m.Hosts.Ready():
	case <-setupCtx.Done():
		return fmt.Errorf("reading hosts: %w", setupCtx.Err())
	}
	d, err := dispatch.New(dispatch.Config{Conn: nc, Names: names, Directory: directory.New(m.KV.Actors), Hosts: m.Hosts, Tracer: m.Tracer})
	if err != nil {
		return err
	}
	m.Disp = d
	return nil
}

// Close closes the dispatcher, if any.
func (m *Mesh) Close() {
	if m != nil && m.Disp != nil {
		_ = m.Disp.Close()
	}
}
