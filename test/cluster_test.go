package test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/nats-io/nats.go"

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

// TestCluster_NodeLoss is issue 16's case 12(b) as a repeatable fault test
// on a 3-node cluster (deploy/nats-cluster.conf: R3, sync_interval: always):
// under increments and reads on 30 counters from 16 clients, kill -9 the
// NATS node that leads the state stream, restart it, wait for it to catch
// up, then kill -9 an actor host and start a replacement. Afterwards: no
// acknowledged increment lost, none applied twice (porcupine on the
// counters, and acked ≤ count ≤ acked + in doubt), no actor activated twice
// with the same generation, every counter answers.
func TestCluster_NodeLoss(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { clusterNodeLoss(t, seed) })
	}
}

const (
	clKeys    = 30
	clClients = 16
	// clCallTimeout outlasts the faults: a call stuck across the node's
	// loss is still waiting when the host dies.
	clCallTimeout = 30 * time.Second
)

func clusterNodeLoss(t *testing.T, seed uint64) {
	m, c := clusterMesh(t)
	// Hosts one after another (the case of the issue), then the rest.
	m.addHost()
	m.addHost()
	m.addScheduler()
	m.addGateway()
	nc, err := nats.Connect(c.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	cl := client.New(m.url())
	handles := make([]*client.Handle, clKeys)
	for k := range handles {
		handles[k] = cl.GetOrCreate("counter", []string{"cluster", strconv.FormatUint(seed, 10), strconv.Itoa(k)})
	}
	foWarm(t, handles)

	base := time.Now()
	now := func() int64 { return time.Since(base).Nanoseconds() }
	ledger := newFoLedger(clKeys)
	var (
		mu      sync.Mutex
		history []porcupine.Operation
		okAt    []int64 // when each successful call returned
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for ci := range clClients {
		rng := rand.New(rand.NewPCG(seed, uint64(100+ci)))
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				in := linIn{Key: rng.IntN(clKeys), Inc: rng.IntN(3) != 0, N: 1}
				ctx, cancel := context.WithTimeout(context.Background(), clCallTimeout)
				call, start := now(), time.Now()
				var v int64
				var err error
				if in.Inc {
					v, err = client.Call[int64](ctx, handles[in.Key], "increment", in.N)
				} else {
					v, err = client.Call[int64](ctx, handles[in.Key], "getCount")
				}
				ret := now()
				cancel()
				op := porcupine.Operation{ClientId: ci, Input: in, Call: call, Output: linOut{V: v}, Return: ret}
				mu.Lock()
				switch {
				case err == nil:
					history = append(history, op)
					okAt = append(okAt, ret)
				case in.Inc:
					op.Output, op.Return = linOut{Unknown: true}, math.MaxInt64
					history = append(history, op)
				}
				mu.Unlock()
				if in.Inc {
					ledger.record(in.Key, start, err)
				}
			}
		})
	}
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
			wg.Wait()
		}
	}
	defer stopLoad()

	chaos := rand.New(rand.NewPCG(seed, 7))
	var events []string
	event := func(f string, a ...any) {
		events = append(events, fmt.Sprintf("+%s ", time.Since(base).Round(time.Millisecond))+fmt.Sprintf(f, a...))
	}
	time.Sleep(time.Duration(1500+chaos.IntN(1000)) * time.Millisecond)
	// Which node dies: the gateway's (the replies and acknowledgements
	// its in-flight calls were waiting for are lost), an actor host's, or
	// the leader of the state stream (every commit's leader moves).
	var victim int
	var why string
	switch seed % 3 {
	case 1:
		// The gateway's node, but not the hosts bucket's leader: the
		// gateway keeps its view of live hosts and loses only the
		// acknowledgements and replies in flight.
		victim, why = c.nodeOf("rivetgo-gateway"), "the gateway's node"
		for range 10 {
			if c.streamLeader(nc, "KV_rivet_hosts") != victim {
				break
			}
			_, _ = nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.KV_rivet_hosts", nil, 5*time.Second)
			time.Sleep(time.Second)
		}
	case 2:
		victim, why = c.nodeOf("rivetgo-actorhost"), "an actor host's node"
	default:
		victim, why = c.streamLeader(nc, "KV_rivet_state"), "the state stream's leader"
	}
	if victim < 0 {
		victim, why = chaos.IntN(3), "a random node"
	}
	c.nodes[victim].kill()
	event("kill -9 nats-%d (%s)", victim+1, why)
	time.Sleep(time.Duration(2000+chaos.IntN(2000)) * time.Millisecond)
	c.nodes[victim] = c.nodes[victim].restart()
	event("restart nats-%d", victim+1)
	c.waitUp(victim)
	c.waitHealthy(victim, 90*time.Second)
	event("nats-%d healthy", victim+1)
	time.Sleep(time.Duration(500+chaos.IntN(1500)) * time.Millisecond)
	// Every host that lived through the node's loss dies (kill -9), one
	// after another, each replaced: a call whose reply was lost with the
	// node is still waiting on one of them.
	for h := range 2 {
		m.hosts[h].kill()
		event("kill -9 actorhost-%d", h)
		m.addHost()
		event("start actorhost-%d", len(m.hosts)-1)
		time.Sleep(time.Duration(500+chaos.IntN(1000)) * time.Millisecond)
	}
	time.Sleep(6 * time.Second) // past the host TTL (2 s): its actors move
	stopLoad()
	event("load stopped")

	counts, failed := foReadCounts(handles, time.Now().Add(60*time.Second))
	for k, err := range failed {
		t.Errorf("counter %d does not answer after the faults: %v", k, err)
	}
	for k, v := range counts {
		if _, bad := failed[k]; !bad {
			history = append(history, porcupine.Operation{ClientId: clClients, Input: linIn{Key: k}, Call: now(), Output: linOut{V: v}, Return: now()})
		}
	}
	// The time to recover: the longest stretch in which no call succeeded.
	slices.Sort(okAt)
	var gap, gapAt int64
	for i := 1; i < len(okAt); i++ {
		if d := okAt[i] - okAt[i-1]; d > gap {
			gap, gapAt = d, okAt[i-1]
		}
	}
	t.Logf("seed %d: %d operations, %d acknowledged increments, %d in doubt; longest stretch without a successful call: %s from +%s; faults:\n  %s%s",
		seed, len(history), ledger.totalAcked(), ledger.errCount(), time.Duration(gap).Round(time.Millisecond), time.Duration(gapAt).Round(time.Millisecond),
		strings.Join(events, "\n  "), ledger.errSummary())
	foCheckCounts(t, ledger, counts)

	// One activation per generation: a second activation with the same
	// generation would be two live copies of one actor.
	seen := map[string]string{}
	for _, p := range m.hosts {
		for _, r := range foLogs(p, "actor activated") {
			id, _ := r["actor_id"].(string)
			g := fmt.Sprint(r["gen"])
			if prev, dup := seen[id+"/"+g]; dup {
				t.Errorf("actor %s activated twice with generation %s (%s and %s)", id, g, prev, p.name)
			}
			seen[id+"/"+g] = p.name
		}
	}

	res, info := porcupine.CheckOperationsVerbose(linModel, history, time.Minute)
	switch res {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Errorf("porcupine could not decide within a minute")
	default:
		for k := range clKeys {
			var part []porcupine.Operation
			for _, op := range history {
				if op.Input.(linIn).Key == k {
					part = append(part, op)
				}
			}
			if !porcupine.CheckOperations(linModel, part) {
				t.Errorf("counter %d is not linearizable:\n%s", k, linExplain(part))
			}
		}
		_ = info
	}
}
