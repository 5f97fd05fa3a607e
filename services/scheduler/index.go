package scheduler

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// index holds every pending schedule of the mesh in a heap ordered by the
// time of its next step: a pre-wake or a fire for the schedules this
// replica owns, a takeover fire TakeoverDelay after the due time for the
// others. It follows the schedule entries of the state bucket with a KV
// watch (puts add, delete markers remove); entries are immutable, so a put
// of a known key changes nothing.
type index struct {
	s *Scheduler

	mu    sync.Mutex
	items map[string]*item // state bucket key → item
	heap  itemHeap
	epoch uint64 // of the current watch: a restarted watch sweeps what it did not see
	kick  chan struct{}
}

type phase uint8

const (
	phaseWake phase = iota // activate the actor, then fire at the due time
	phaseFire
)

type item struct {
	key     string
	e       protocol.ScheduleEntry
	at      time.Time
	next    time.Time
	phase   phase
	pos     int  // in the heap; -1 while a fire is in flight
	firing  bool // a fire request is in flight
	attempt int  // failed fire attempts so far
	epoch   uint64
	fetch   bool // the arguments were too large to keep: the host reads them
}

// maxHeldArgs is the largest arguments a replica keeps in memory; larger
// ones are read by the host from the schedule's entry when it fires.
const maxHeldArgs = 1024

func newIndex(s *Scheduler) *index {
	return &index{s: s, items: map[string]*item{}, kick: make(chan struct{}, 1)}
}

func (x *index) size() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.items)
}

func (x *index) counts() (all, owned int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, it := range x.items {
		if x.s.members.owns(it.e.ActorID) {
			owned++
		}
	}
	return len(x.items), owned
}

// follow watches the schedule entries until ctx ends, restarting the watch
// when it fails. loaded is closed once the first watch delivered every
// existing entry.
func (x *index) follow(ctx context.Context, kv jetstream.KeyValue, loaded chan struct{}) {
	first := true
	for {
		err := x.watchOnce(ctx, kv, func() {
			if first {
				first = false
				close(loaded)
			}
		})
		if ctx.Err() != nil {
			return
		}
		x.s.log.Warn().Err(err).Msg("schedule watch ended; restarting")
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (x *index) watchOnce(ctx context.Context, kv jetstream.KeyValue, onLoaded func()) error {
	w, err := kv.Watch(ctx, protocol.ScheduleKeys())
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	x.mu.Lock()
	x.epoch++
	epoch := x.epoch
	x.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if e == nil {
				x.sweep(epoch)
				onLoaded()
				continue
			}
			x.apply(e, epoch)
		}
	}
}

func (x *index) apply(e jetstream.KeyValueEntry, epoch uint64) {
	if e.Operation() != jetstream.KeyValuePut {
		x.remove(e.Key())
		return
	}
	x.mu.Lock()
	if it := x.items[e.Key()]; it != nil {
		it.epoch = epoch
		x.mu.Unlock()
		return
	}
	x.mu.Unlock()
	var se protocol.ScheduleEntry
	if err := protocol.Unmarshal(e.Value(), &se); err != nil || se.ID == "" || se.ActorID == "" {
		x.s.log.Warn().Err(err).Str("key", e.Key()).Msg("undecodable schedule entry; ignored")
		return
	}
	if id, sid, ok := protocol.ParseScheduleKey(e.Key()); !ok || id != se.ActorID || sid != se.ID {
		x.s.log.Warn().Str("key", e.Key()).Msg("schedule entry does not match its key; ignored")
		return
	}
	it := &item{key: e.Key(), e: se, at: time.UnixMilli(se.AtMS), epoch: epoch, pos: -1}
	if len(it.e.Args) > maxHeldArgs {
		it.e.Args, it.fetch = nil, true // the host reads them from the entry
	}
	x.mu.Lock()
	if x.items[it.key] == nil {
		x.items[it.key] = it
		x.plan(it, time.Now())
		heap.Push(&x.heap, it)
	}
	x.mu.Unlock()
	x.wake()
}

// remove forgets a schedule (fired, cancelled or its actor destroyed).
func (x *index) remove(key string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(key)
}

func (x *index) removeLocked(key string) {
	it := x.items[key]
	if it == nil {
		return
	}
	delete(x.items, key)
	if it.pos >= 0 {
		heap.Remove(&x.heap, it.pos)
	}
}

// sweep drops what a restarted watch did not deliver.
func (x *index) sweep(epoch uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, it := range x.items {
		if it.epoch < epoch {
			x.removeLocked(k)
		}
	}
}

// plan sets an item's next step from its ownership. Called with mu held,
// for an item not in the heap or before heap.Fix.
func (x *index) plan(it *item, now time.Time) {
	if !x.s.members.owns(it.e.ActorID) {
		it.phase = phaseFire
		it.next = it.at.Add(x.s.cfg.TakeoverDelay)
		return
	}
	if pw := x.s.cfg.PreWake; pw > 0 && it.attempt == 0 && it.at.Add(-pw).After(now) {
		it.phase = phaseWake
		it.next = it.at.Add(-pw)
		return
	}
	it.phase = phaseFire
	it.next = it.at
}

// reown re-plans every waiting item after the replica set changed.
func (x *index) reown() {
	x.mu.Lock()
	now := time.Now()
	for _, it := range x.items {
		if it.pos >= 0 && it.attempt == 0 {
			x.plan(it, now)
		}
	}
	heap.Init(&x.heap)
	x.mu.Unlock()
	x.wake()
}

func (x *index) wake() {
	select {
	case x.kick <- struct{}{}:
	default:
	}
}

// run takes due items off the heap until ctx ends.
func (x *index) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		x.mu.Lock()
		var due *item
		wait := time.Hour
		if len(x.heap) > 0 {
			top := x.heap[0]
			if d := time.Until(top.next); d <= 0 {
				due = heap.Pop(&x.heap).(*item)
				if due.phase == phaseFire {
					due.firing = true
				}
			} else {
				wait = d
			}
		}
		var snap item
		if due != nil {
			snap = *due
			if due.phase == phaseWake {
				due.phase = phaseFire
				due.next = due.at
				heap.Push(&x.heap, due)
			}
		}
		x.mu.Unlock()
		if due != nil {
			if snap.phase == phaseWake {
				x.s.spawn(ctx, func() { x.s.preWake(ctx, &snap) })
			} else if !x.s.spawn(ctx, func() { x.s.fire(ctx, due, &snap) }) {
				return
			}
			continue
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-x.kick:
			if !t.Stop() {
				<-t.C
			}
		case <-t.C:
		}
	}
}

// done records a fire's outcome: terminal ones forget the item, the others
// retry with backoff.
func (x *index) done(it *item, terminal bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	it.firing = false
	if x.items[it.key] != it {
		return // removed meanwhile (its delete marker arrived)
	}
	if terminal {
		x.removeLocked(it.key)
		return
	}
	it.attempt++
	it.phase = phaseFire
	it.next = time.Now().Add(backoff(it.attempt))
	heap.Push(&x.heap, it)
	x.wakeLocked()
}

func (x *index) wakeLocked() {
	select {
	case x.kick <- struct{}{}:
	default:
	}
}

// backoff is the wait before retry n (1-based): 100 ms doubling to 5 s.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// itemHeap orders items by next.
type itemHeap []*item

func (h itemHeap) Len() int           { return len(h) }
func (h itemHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h itemHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos = i
	h[j].pos = j
}
func (h *itemHeap) Push(v any) {
	it := v.(*item)
	it.pos = len(*h)
	*h = append(*h, it)
}
func (h *itemHeap) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	it.pos = -1
	*h = old[:n-1]
	return it
}
