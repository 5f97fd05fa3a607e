package test

import (
	"context"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/client"
)

// TestCluster_StartTogether starts two hosts, a scheduler and a gateway at
// the same moment against a fresh 3-node cluster at R3, as docker compose up
// does: they all create or bind the same R3 buckets and streams at once.
// Every one must come up (retrying while the cluster settles), none may
// exit, and an action must succeed.
func TestCluster_StartTogether(t *testing.T) {
	m, _ := clusterMesh(t)
	m.addHost()
	m.addHost()
	m.addScheduler()
	m.startGateway()
	h := client.New(m.url()).GetOrCreate("counter", []string{"together"})
	waitFor(t, 90*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := client.Call[int64](ctx, h, "increment", int64(1))
		return err
	})
	for _, p := range append(append(append([]*proc{}, m.hosts...), m.scheds...), m.gws...) {
		select {
		case <-p.done:
			t.Errorf("%s exited: %v", p.name, p.err)
		default:
		}
	}
}
