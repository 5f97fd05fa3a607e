package test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/client"
)

// The failover tests drive counters through hosts that crash, pause, drain
// and sleep, and check the invariants users rely on: no acknowledged write is
// lost, none is applied twice (beyond calls whose outcome the client could not
// know), at most one activation per actor, and every actor answers again.
// They never assert on speed, only on generous liveness bounds.

// foCallTimeout bounds one client call, so that no test hangs forever.
const foCallTimeout = 20 * time.Second

// foLedger records, per actor, the increments a client saw acknowledged and
// those whose outcome it cannot know (the call failed: it may or may not
// have run).
type foLedger struct {
	mu      sync.Mutex
	acked   []int64
	indet   []int64
	errs    int
	samples map[string]int // error text → occurrences
	t0      time.Time
	when    []string    // when the first failed calls started and ended
	starts  []time.Time // when each failed call started
}

func newFoLedger(n int) *foLedger {
	return &foLedger{acked: make([]int64, n), indet: make([]int64, n), samples: map[string]int{}, t0: time.Now()}
}

func (l *foLedger) record(i int, start time.Time, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.acked[i]++
		return
	}
	l.indet[i]++
	l.errs++
	l.samples[err.Error()]++
	l.starts = append(l.starts, start)
	if len(l.when) < 20 {
		l.when = append(l.when, fmt.Sprintf("actor %d: call from +%s to +%s",
			i, start.Sub(l.t0).Round(time.Millisecond), time.Since(l.t0).Round(time.Millisecond)))
	}
}

// failedSince counts the failed calls that started at t or later.
func (l *foLedger) failedSince(t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.starts {
		if !s.Before(t) {
			n++
		}
	}
	return n
}

// since is the time since the load started, for reports.
func (l *foLedger) since() time.Duration { return time.Since(l.t0).Round(time.Millisecond) }

func (l *foLedger) errCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errs
}

func (l *foLedger) errSummary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	shown := 0
	for e, n := range l.samples {
		if shown++; shown > 10 {
			fmt.Fprintf(&b, "\n  … %d more distinct errors", len(l.samples)-10)
			break
		}
		fmt.Fprintf(&b, "\n  %d× %s", n, e)
	}
	for _, w := range l.when {
		fmt.Fprintf(&b, "\n  %s", w)
	}
	return b.String()
}

func (l *foLedger) totalAcked() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s int64
	for _, v := range l.acked {
		s += v
	}
	return s
}

// foLoad runs workers goroutines that increment random counters of handles
// by one until stop is closed, recording each outcome in l.
func foLoad(handles []*client.Handle, l *foLedger, workers int, seed uint64, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := rng.IntN(len(handles))
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), foCallTimeout)
				_, err := client.Call[int64](ctx, handles[i], "increment", int64(1))
				cancel()
				l.record(i, start, err)
			}
		})
	}
	return wg.Wait
}

// foCounters returns handles to n counters with fresh keys.
func foCounters(c *client.Client, prefix string, n int) []*client.Handle {
	hs := make([]*client.Handle, n)
	for i := range hs {
		hs[i] = c.GetOrCreate("counter", prefix, strconv.Itoa(i))
	}
	return hs
}

// foParallel runs f(i) for i in [0, n) on up to workers goroutines.
func foParallel(n, workers int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// foWarm activates every actor of handles (a getCount each), failing the
// test when one does not answer.
func foWarm(t *testing.T, handles []*client.Handle) {
	t.Helper()
	errs := make([]error, len(handles))
	foParallel(len(handles), 16, func(i int) {
		ctx, cancel := context.WithTimeout(context.Background(), foCallTimeout)
		defer cancel()
		_, errs[i] = client.Call[int64](ctx, handles[i], "getCount")
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
}

// foReadCounts reads every counter, retrying each until deadline (a liveness
// bound, not a speed assertion). It returns the counts and the actors that
// never answered.
func foReadCounts(handles []*client.Handle, deadline time.Time) (counts []int64, failed map[int]error) {
	counts = make([]int64, len(handles))
	var mu sync.Mutex
	failed = map[int]error{}
	foParallel(len(handles), 16, func(i int) {
		var err error
		for {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			counts[i], err = client.Call[int64](ctx, handles[i], "getCount")
			cancel()
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			mu.Lock()
			failed[i] = err
			mu.Unlock()
		}
	})
	return counts, failed
}

// foCheckCounts checks acked ≤ count ≤ acked + indeterminate for every actor.
func foCheckCounts(t *testing.T, l *foLedger, counts []int64) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	bad := 0
	for i, n := range counts {
		if n < l.acked[i] || n > l.acked[i]+l.indet[i] {
			bad++
			if bad <= 20 {
				t.Errorf("actor %d: count %d, but %d increments acknowledged and %d indeterminate (want %d ≤ count ≤ %d)",
					i, n, l.acked[i], l.indet[i], l.acked[i], l.acked[i]+l.indet[i])
			}
		}
	}
	if bad > 20 {
		t.Errorf("… %d actors in all break acked ≤ count ≤ acked + indeterminate", bad)
	}
}

// foLogs returns the JSON log records of p whose message is msg.
func foLogs(p *proc, msg string) []map[string]any {
	var out []map[string]any
	for line := range strings.SplitSeq(p.out.String(), "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec["message"] == msg || rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// foActivations counts "actor activated" records per actor id in p's logs.
func foActivations(p *proc) map[string]int {
	n := map[string]int{}
	for _, r := range foLogs(p, "actor activated") {
		if id, ok := r["actor_id"].(string); ok {
			n[id]++
		}
	}
	return n
}

// foSum adds the counts of maps by key.
func foSum(ms ...map[string]int) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}

// foStopped reports nil once every thread of p is stopped (SIGSTOP).
func foStopped(p *proc) error {
	pid := p.cmd.Process.Pid
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return err
		}
		// pid (comm) state ...: comm may hold spaces, so cut at the last ')'.
		st := string(b)
		i := strings.LastIndexByte(st, ')')
		if i < 0 || i+2 >= len(st) {
			return fmt.Errorf("unexpected stat %q", st)
		}
		if c := st[i+2]; c != 'T' && c != 't' {
			return fmt.Errorf("thread %s of %s is in state %c", task.Name(), p.name, c)
		}
	}
	return nil
}

// TestFailover_KillHost kills one of three hosts with SIGKILL while 16
// clients increment 200 counters: every actor must answer again, no
// acknowledged increment may be lost, and none may be applied twice.
func TestFailover_KillHost(t *testing.T) {
	m := newMesh(t, 3)
	c := client.New(m.url())
	const actors = 200
	handles := foCounters(c, "kill", actors)
	foWarm(t, handles)

	l := newFoLedger(actors)
	stop := make(chan struct{})
	wait := foLoad(handles, l, 16, 1, stop)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
			wait()
		}
	}()

	// Let the load run, then kill the host holding the most actors.
	time.Sleep(2 * time.Second)
	victim, most := 0, -1
	for i, n := range m.held() {
		if n > most {
			victim, most = i, n
		}
	}
	before := l.totalAcked()
	m.hosts[victim].kill()
	killed := time.Now()
	errsAtKill := l.errCount()
	t.Logf("killed host %d (it held %d of %d actors) at +%s, after %d acknowledged increments", victim, most, actors, l.since(), before)

	// Keep the load going through the takeover, well past the host TTL.
	time.Sleep(6 * time.Second)
	close(stop)
	wait()

	// Liveness: every actor answers again within a generous bound.
	counts, failed := foReadCounts(handles, killed.Add(30*time.Second))
	for i, err := range failed {
		t.Errorf("actor %d did not answer within 30s of the kill: %v", i, err)
	}
	if len(failed) > 0 {
		t.FailNow()
	}
	foCheckCounts(t, l, counts)
	t.Logf("%d acknowledged increments; %d calls errored (%d of them after the kill)%s",
		l.totalAcked(), l.errCount(), l.errCount()-errsAtKill, l.errSummary())
	if l.totalAcked() <= before {
		t.Errorf("no increment was acknowledged after the kill")
	}
}

// TestFailover_PausedHost pauses one of two hosts (SIGSTOP) for about three
// host TTLs under load, then resumes it. Calls to its actors stall until the
// server expires its lease, then move to the other host; the resumed host
// must notice it lost its lease and never answer for its old actors.
func TestFailover_PausedHost(t *testing.T) {
	m := newMesh(t, 2)
	c := client.New(m.url())
	const actors = 20
	handles := foCounters(c, "paused", actors)
	foWarm(t, handles)
	held := m.held()
	act0, act1 := held[0], held[1]
	t.Logf("actors held: host 0: %d, host 1: %d", act0, act1)
	if act0 == 0 || act1 == 0 {
		t.Fatalf("placement put every actor on one host (host 0: %d, host 1: %d): the test needs both", act0, act1)
	}

	l := newFoLedger(actors)
	stop := make(chan struct{})
	wait := foLoad(handles, l, 12, 2, stop)
	stopped := false
	defer func() {
		if stopped {
			m.hosts[0].signal(syscall.SIGCONT)
		}
		select {
		case <-stop:
		default:
			close(stop)
			wait()
		}
	}()

	time.Sleep(time.Second)
	m.hosts[0].signal(syscall.SIGSTOP)
	stopped = true
	// From the moment every thread of host 0 is stopped, it can start no
	// action: a call made later must stall, then succeed on host 1.
	waitFor(t, 10*time.Second, func() error { return foStopped(m.hosts[0]) })
	paused := time.Now()
	t.Logf("host 0 paused at +%s", l.since())
	ackedAtPause := l.totalAcked()
	time.Sleep(6 * time.Second) // 3× the host TTL
	ackedWhilePaused := l.totalAcked() - ackedAtPause
	m.hosts[0].signal(syscall.SIGCONT)
	stopped = false
	t.Logf("host 0 resumed at +%s after %s; %d increments acknowledged meanwhile", l.since(), time.Since(paused).Round(time.Millisecond), ackedWhilePaused)

	// The resumed host must find its lease gone and drop its actors.
	waitFor(t, 20*time.Second, func() error {
		if len(foLogs(m.hosts[0], "host lease lost; dropping every actor")) == 0 {
			return errors.New(`host 0 did not log "host lease lost" after it resumed`)
		}
		return nil
	})
	time.Sleep(2 * time.Second) // keep going with the old host back
	close(stop)
	wait()

	counts, failed := foReadCounts(handles, time.Now().Add(30*time.Second))
	for i, err := range failed {
		t.Errorf("actor %d did not answer within 30s: %v", i, err)
	}
	if len(failed) > 0 {
		t.FailNow()
	}
	foCheckCounts(t, l, counts)
	t.Logf("%d acknowledged increments; %d calls errored%s", l.totalAcked(), l.errCount(), l.errSummary())
	// A call in flight on host 0 when it stopped may fail (its outcome is
	// unknown: host 0 may have saved it); a call made after it stopped
	// never reached a running owner and must succeed once host 1 takes over.
	if n := l.failedSince(paused); n > 0 {
		t.Errorf("%d calls made after host 0 was paused failed instead of moving to host 1", n)
	}
	if ackedWhilePaused == 0 {
		t.Errorf("no increment was acknowledged while host 0 was paused")
	}
}

// TestDoubleActivation sends 1000 concurrent first calls to 100 new sleepy
// actors through one gateway and three hosts: each actor must be activated
// exactly once.
func TestDoubleActivation(t *testing.T) {
	m := newMesh(t, 3)
	c := client.New(m.url())
	const (
		actors = 100
		calls  = 1000
	)
	prefix := fmt.Sprint("double-", time.Now().UnixNano())
	handles := make([]*client.Handle, actors)
	for i := range handles {
		handles[i] = c.GetOrCreate("sleepy", prefix, strconv.Itoa(i))
	}
	type result struct {
		st  examples.SleepyState
		err error
	}
	results := make([]result, calls)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), foCallTimeout)
			defer cancel()
			results[i].st, results[i].err = client.Call[examples.SleepyState](ctx, handles[i%actors], "get")
		})
	}
	close(start)
	wg.Wait()

	maxWakes := make([]int64, actors)
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("call %d (actor %d): %v", i, i%actors, r.err)
		}
		maxWakes[i%actors] = max(maxWakes[i%actors], r.st.Wakes)
	}

	ids := make([]string, actors)
	for i, h := range handles {
		id, err := h.Resolve(testCtx(t, foCallTimeout))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	var perHost []map[string]int
	asleep := map[string]int{}
	for _, h := range m.hosts {
		perHost = append(perHost, foActivations(h))
		for _, r := range foLogs(h, "actor asleep") {
			if id, ok := r["actor_id"].(string); ok {
				asleep[id]++
			}
		}
	}
	activated := foSum(perHost...)
	slept := 0
	for i, id := range ids {
		n := activated[id]
		where := make([]int, len(perHost))
		for j, ph := range perHost {
			where[j] = ph[id]
		}
		if maxWakes[i] > 1 || n > 1 {
			// Sleepy sleeps after one idle second. If this actor slept
			// during the storm, each wake is a legitimate activation; it
			// must still be one activation per wake, never two at once.
			if asleep[id] == 0 {
				t.Errorf("actor %d (%s): activated %d times (per host %v), wakes %d, and it never slept", i, id, n, where, maxWakes[i])
				continue
			}
			slept++
			if int64(n) != maxWakes[i] {
				t.Errorf("actor %d (%s): activated %d times (per host %v) but its state counts %d wakes", i, id, n, where, maxWakes[i])
			}
			continue
		}
		if n != 1 || maxWakes[i] != 1 {
			t.Errorf("actor %d (%s): activated %d times (per host %v), wakes %d; want exactly one activation", i, id, n, where, maxWakes[i])
		}
	}
	if slept > 0 {
		t.Logf("%d actors slept during the storm (idle for their 1s sleep timeout) and woke again", slept)
	}
	var dist []string
	for j, ph := range perHost {
		dist = append(dist, fmt.Sprintf("host %d: %d", j, len(ph)))
	}
	t.Logf("activations per host: %s", strings.Join(dist, ", "))
}

// foRaw posts an action with the JSON encoding through the query form and
// returns its output and the generation header.
func foRaw(t *testing.T, base string, key, action string, args ...any) (out json.RawMessage, gen uint64, actorID string) {
	t.Helper()
	if args == nil {
		args = []any{}
	}
	body, err := json.Marshal(map[string]any{"args": args})
	if err != nil {
		t.Fatal(err)
	}
	u := base + "/gateway/sleepy/action/" + action +
		"?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-crash-policy=sleep&rvt-key=" + url.QueryEscape(key)
	status, h, resp := rawPost(t, u, map[string]string{"Content-Type": "application/json", "x-rivet-encoding": "json"}, body)
	if status != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", action, status, trim(resp))
	}
	var r struct {
		Output json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		t.Fatalf("%s: %v in %s", action, err, trim(resp))
	}
	gen, err = strconv.ParseUint(h.Get("x-rivet-actor-generation"), 10, 64)
	if err != nil {
		t.Fatalf("%s: x-rivet-actor-generation header %q: %v", action, h.Get("x-rivet-actor-generation"), err)
	}
	return r.Output, gen, h.Get("x-rivet-actor")
}

// foAwaitSleep polls the management API until actor id reports sleep_ts.
func foAwaitSleep(t *testing.T, base, id string) {
	t.Helper()
	waitFor(t, 20*time.Second, func() error {
		resp, err := http.Get(base + "/actors?namespace=default&actor_ids=" + url.QueryEscape(id))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var list struct {
			Actors []struct {
				SleepTS *int64 `json:"sleep_ts"`
			} `json:"actors"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			return err
		}
		if len(list.Actors) != 1 {
			return fmt.Errorf("listing %s gave %d actors", id, len(list.Actors))
		}
		if list.Actors[0].SleepTS == nil {
			return fmt.Errorf("actor %s is not asleep", id)
		}
		return nil
	})
}

// TestSleepAndWake: an idle sleepy actor sleeps, keeps its state, and wakes
// on the next call with the next generation; the sleep action puts it to
// sleep at once.
func TestSleepAndWake(t *testing.T) {
	m := newMesh(t, 1)
	base := m.url()
	key := fmt.Sprint("sleep-", time.Now().UnixNano())
	type st struct {
		Value int64 `json:"value"`
		Wakes int64 `json:"wakes"`
	}
	decode := func(raw json.RawMessage) st {
		t.Helper()
		var s st
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		return s
	}
	decodeGen := func(raw json.RawMessage) uint64 {
		t.Helper()
		var g uint64
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatalf("decode generation %s: %v", raw, err)
		}
		return g
	}

	// Every activation runs OnWake once and takes the next generation, so
	// wakes − generation stays the same for the actor's whole life.
	out, g0, id := foRaw(t, base, key, "set", 42)
	if s := decode(out); s.Value != 42 || s.Wakes != 1 {
		t.Fatalf("set(42) on a new actor: %+v, want value 42, wakes 1", s)
	}
	if g0 == 0 {
		t.Fatalf("generation header 0 on an answered call")
	}
	// The generation action and the header agree (one activation).
	out, g, _ := foRaw(t, base, key, "generation")
	if ga := decodeGen(out); ga != g {
		t.Fatalf("generation action %d, header %d", ga, g)
	}
	if g != g0 {
		t.Logf("generation moved from %d to %d between two calls (the actor slept)", g0, g)
	}

	// Idle: it sleeps after its timeout, and the next call wakes it.
	foAwaitSleep(t, base, id)
	out, g1, _ := foRaw(t, base, key, "get")
	if s := decode(out); s.Value != 42 || s.Wakes != int64(g1-g0)+1 {
		t.Fatalf("get after sleep: %+v at generation %d, want value 42, wakes %d", s, g1, int64(g1-g0)+1)
	}
	if g1 != g+1 {
		t.Fatalf("generation after one sleep: %d, want %d", g1, g+1)
	}
	out, g1b, _ := foRaw(t, base, key, "generation")
	if ga := decodeGen(out); ga != g1b {
		t.Fatalf("generation action %d, header %d", ga, g1b)
	}

	// The sleep action: the actor sleeps, keeps its state, and the next
	// call wakes it with the next generation.
	_, gs, _ := foRaw(t, base, key, "sleep")
	foAwaitSleep(t, base, id)
	out, g2, _ := foRaw(t, base, key, "get")
	if g2 != gs+1 {
		t.Fatalf("generation after the sleep action: %d, want %d", g2, gs+1)
	}
	t.Logf("generations: first %d, after idle sleep %d, at the sleep action %d, after it %d", g0, g1, gs, g2)
	if s := decode(out); s.Value != 42 || s.Wakes != int64(g2-g0)+1 {
		t.Fatalf("get after the sleep action: %+v at generation %d, want value 42, wakes %d", s, g2, int64(g2-g0)+1)
	}
}

// TestDrainOnSIGTERM stops one of two hosts with SIGTERM under load: the
// drain hands its actors over without failing a single call.
func TestDrainOnSIGTERM(t *testing.T) {
	m := newMesh(t, 2)
	c := client.New(m.url())
	const actors = 50
	handles := foCounters(c, "drain", actors)
	foWarm(t, handles)
	act0 := m.held()[0]
	t.Logf("host 0 holds %d of %d actors", act0, actors)
	if act0 == 0 {
		t.Fatalf("host 0 holds no actor: the drain would hand nothing over")
	}

	l := newFoLedger(actors)
	stop := make(chan struct{})
	wait := foLoad(handles, l, 8, 5, stop)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
			wait()
		}
	}()
	time.Sleep(time.Second)
	t.Logf("SIGTERM to host 0 at +%s", l.since())
	if err := m.hosts[0].stop(20 * time.Second); err != nil {
		t.Errorf("host 0 did not exit cleanly on SIGTERM: %v", err)
	}
	t.Logf("host 0 exited at +%s", l.since())
	ackedAtExit := l.totalAcked()
	time.Sleep(2 * time.Second)
	close(stop)
	wait()
	if n := l.errCount(); n > 0 {
		t.Errorf("%d calls failed during the drain:%s", n, l.errSummary())
	}
	if l.totalAcked() <= ackedAtExit {
		t.Errorf("no increment was acknowledged after host 0 exited")
	}
	if n := len(foLogs(m.hosts[0], "actor host stopped")); n != 1 {
		t.Errorf("host 0 logged %q %d times", "actor host stopped", n)
	}

	counts, failed := foReadCounts(handles, time.Now().Add(30*time.Second))
	for i, err := range failed {
		t.Errorf("actor %d did not answer within 30s: %v", i, err)
	}
	l.mu.Lock()
	var wrong []string
	for i, n := range counts {
		if _, f := failed[i]; !f && n != l.acked[i] {
			wrong = append(wrong, fmt.Sprintf("actor %d: count %d, acknowledged %d", i, n, l.acked[i]))
		}
	}
	l.mu.Unlock()
	sort.Strings(wrong)
	for _, w := range wrong {
		t.Error(w)
	}
	t.Logf("%d increments acknowledged", l.totalAcked())
}
