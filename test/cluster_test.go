package test

import (
	"context"
	"errors"
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
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/protocol"
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
	h := client.New(m.url()).GetOrCreate("counter", "together")
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
	// clQueues actors receive the queue load.
	clQueues = 10
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

	r := startClLoad(t, m.url(), c.url(), seed, clClients)
	defer r.stopLoad()
	chaos := rand.New(rand.NewPCG(seed, 7))
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
	r.event("kill -9 nats-%d (%s)", victim+1, why)
	time.Sleep(time.Duration(2000+chaos.IntN(2000)) * time.Millisecond)
	c.nodes[victim] = c.nodes[victim].restart()
	r.event("restart nats-%d", victim+1)
	c.waitUp(victim)
	c.waitHealthy(victim, 90*time.Second)
	r.event("nats-%d healthy", victim+1)
	time.Sleep(time.Duration(500+chaos.IntN(1500)) * time.Millisecond)
	// Every host that lived through the node's loss dies (kill -9), one
	// after another, each replaced: a call whose reply was lost with the
	// node is still waiting on one of them.
	for h := range 2 {
		m.hosts[h].kill()
		r.event("kill -9 actorhost-%d", h)
		m.addHost()
		r.event("start actorhost-%d", len(m.hosts)-1)
		time.Sleep(time.Duration(500+chaos.IntN(1000)) * time.Millisecond)
	}
	time.Sleep(6 * time.Second) // past the host TTL (2 s): its actors move
	r.finish(t, m.hosts)
}

// clLoad is the load of the cluster fault tests: clClients clients calling
// increment (2 in 3) and getCount on clKeys counters, every operation
// recorded for porcupine and every increment in a ledger.
type clLoad struct {
	seed    uint64
	url     string
	clients int
	handles []*client.Handle
	base    time.Time
	ledger  *foLedger
	mu      sync.Mutex
	history []porcupine.Operation
	okAt    []int64 // when each successful call returned
	// refused counts the increments refused as guard/service_unavailable
	// (nothing ran): neither in the history nor in doubt, so the ledger's
	// count ≤ acked + in doubt also checks that claim.
	refused int
	events  []string
	stop    chan struct{}
	wg      sync.WaitGroup
	// The queue load: messages {"delta": i} published with JetStream to
	// the "mutate" queues of clQueues counterWorker actors, each retried
	// with its Nats-Msg-Id until acknowledged; sums[a] is the sum of the
	// deltas acknowledged for actor a.
	qsums      []int64
	qsent      int
	qretries   int
	qunacked   int
	qworkerKey string
}

func startClLoad(t *testing.T, url, natsURL string, seed uint64, clients int) *clLoad {
	t.Helper()
	r := &clLoad{seed: seed, ledger: newFoLedger(clKeys), stop: make(chan struct{}), qsums: make([]int64, clQueues),
		qworkerKey: fmt.Sprint("clq-", seed, "-", time.Now().UnixNano())}
	r.url = url
	cl := client.New(url)
	r.handles = make([]*client.Handle, clKeys)
	for k := range r.handles {
		r.handles[k] = cl.GetOrCreate("counter", "cluster", strconv.FormatUint(seed, 10), strconv.Itoa(k))
	}
	foWarm(t, r.handles)
	r.base = time.Now()
	r.ledger.t0 = r.base
	r.clients = clients
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := protocol.NewNames("")
	r.wg.Go(func() {
		for i := 1; ; i++ {
			for a := range clQueues {
				select {
				case <-r.stop:
					return
				default:
				}
				subj := names.QueueSubject("counterWorker", "mutate", []string{r.qworkerKey, strconv.Itoa(a)})
				id := fmt.Sprintf("%s-%d-%d", r.qworkerKey, a, i)
				// Retried with the same id until acknowledged (the
				// stream's duplicate window makes a retry of a stored
				// message a no-op), for up to a minute.
				deadline := time.Now().Add(time.Minute)
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					_, err := js.Publish(ctx, subj, fmt.Appendf(nil, `{"delta":%d}`, i), jetstream.WithMsgID(id))
					cancel()
					if err == nil {
						r.mu.Lock()
						r.qsums[a] += int64(i)
						r.qsent++
						r.mu.Unlock()
						break
					}
					if time.Now().After(deadline) {
						r.mu.Lock()
						r.qunacked++
						r.mu.Unlock()
						return // its outcome is unknown: stop here, the sums stay exact
					}
					r.mu.Lock()
					r.qretries++
					r.mu.Unlock()
					time.Sleep(100 * time.Millisecond)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	for ci := range clients {
		rng := rand.New(rand.NewPCG(seed, uint64(100+ci)))
		r.wg.Go(func() {
			for {
				select {
				case <-r.stop:
					return
				default:
				}
				in := linIn{Key: rng.IntN(clKeys), Inc: rng.IntN(3) != 0, N: 1}
				ctx, cancel := context.WithTimeout(context.Background(), clCallTimeout)
				call, start := r.now(), time.Now()
				var v int64
				var err error
				if in.Inc {
					v, err = client.Call[int64](ctx, r.handles[in.Key], "increment", in.N)
				} else {
					v, err = client.Call[int64](ctx, r.handles[in.Key], "getCount")
				}
				ret := r.now()
				cancel()
				op := porcupine.Operation{ClientId: ci, Input: in, Call: call, Output: linOut{V: v}, Return: ret}
				r.mu.Lock()
				switch {
				case err == nil:
					r.history = append(r.history, op)
					r.okAt = append(r.okAt, ret)
				case in.Inc && notRun(err):
					r.refused++
				case in.Inc:
					// It may have happened, at any time after the call.
					op.Output, op.Return = linOut{Unknown: true}, math.MaxInt64
					r.history = append(r.history, op)
				}
				r.mu.Unlock()
				if in.Inc && !notRun(err) {
					r.ledger.record(in.Key, start, err)
				}
			}
		})
	}
	return r
}

func (r *clLoad) now() int64 { return time.Since(r.base).Nanoseconds() }

func (r *clLoad) event(f string, a ...any) {
	r.events = append(r.events, fmt.Sprintf("+%s ", time.Since(r.base).Round(time.Millisecond))+fmt.Sprintf(f, a...))
}

func (r *clLoad) stopLoad() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
		r.wg.Wait()
	}
}

// finish stops the load, reads every counter and checks: porcupine on the
// history, acked ≤ count ≤ acked + in doubt, one activation per actor and
// generation across hosts, every counter answers.
func (r *clLoad) finish(t *testing.T, hosts []*proc) {
	t.Helper()
	r.stopLoad()
	r.event("load stopped")
	counts, failed := foReadCounts(r.handles, time.Now().Add(90*time.Second))
	for k, err := range failed {
		t.Errorf("counter %d does not answer after the faults: %v", k, err)
	}
	history := r.history
	for k, v := range counts {
		if _, bad := failed[k]; !bad {
			history = append(history, porcupine.Operation{ClientId: r.clients, Input: linIn{Key: k}, Call: r.now(), Output: linOut{V: v}, Return: r.now()})
		}
	}
	// The time to recover: the longest stretch in which no call succeeded.
	okAt := slices.Clone(r.okAt)
	slices.Sort(okAt)
	var gap, gapAt int64
	for i := 1; i < len(okAt); i++ {
		if d := okAt[i] - okAt[i-1]; d > gap {
			gap, gapAt = d, okAt[i-1]
		}
	}
	t.Logf("seed %d: %d operations, %d acknowledged increments, %d in doubt, %d refused (did not run); longest stretch without a successful call: %s from +%s; faults:\n  %s%s",
		r.seed, len(history), r.ledger.totalAcked(), r.ledger.errCount(), r.refused, time.Duration(gap).Round(time.Millisecond), time.Duration(gapAt).Round(time.Millisecond),
		strings.Join(r.events, "\n  "), r.ledger.errSummary())
	foCheckCounts(t, r.ledger, counts)

	// Every acknowledged queue message handled exactly once.
	if r.qunacked > 0 {
		t.Errorf("a queue publish was not acknowledged within a minute of retries")
	}
	t.Logf("queues: %d messages acknowledged (%d publish retries)", r.qsent, r.qretries)
	if r.qsent == 0 {
		t.Error("no queue message was acknowledged")
	}
	qc := client.New(r.url)
	for a := range clQueues {
		h := qc.GetOrCreate("counterWorker", r.qworkerKey, strconv.Itoa(a))
		waitValue(t, h, "getValue", r.qsums[a], 90*time.Second)
	}
	time.Sleep(time.Second) // settled: no late duplicate either
	for a := range clQueues {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := client.Call[int64](ctx, qc.GetOrCreate("counterWorker", r.qworkerKey, strconv.Itoa(a)), "getValue")
		cancel()
		if err != nil || got != r.qsums[a] {
			t.Errorf("queue actor %d: value %d (%v); the acknowledged messages sum to %d", a, got, err, r.qsums[a])
		}
	}

	// One activation per generation: a second activation with the same
	// generation would be two live copies of one actor.
	seen := map[string]string{}
	for _, p := range hosts {
		for _, rec := range foLogs(p, "actor activated") {
			id, _ := rec["actor_id"].(string)
			g := fmt.Sprint(rec["gen"])
			if prev, dup := seen[id+"/"+g]; dup {
				t.Errorf("actor %s activated twice with generation %s (%s and %s)", id, g, prev, p.name)
			}
			seen[id+"/"+g] = p.name
		}
	}
	if len(seen) == 0 {
		t.Error("no host logged an activation: the check above saw nothing")
	}

	switch porcupine.CheckOperationsTimeout(linModel, history, 2*time.Minute) {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Errorf("porcupine could not decide within 2 minutes")
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
	}
}

// notRun reports whether a call's error says it did not run:
// guard/service_unavailable (no host could take it, or the host could not
// activate the actor).
func notRun(err error) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Group == "guard" && e.Code == "service_unavailable"
}
