package gateway

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// replies hands out reply subjects for waited queue sends. One wildcard
// subscription serves them all (made on first use): subscribing and
// unsubscribing an inbox per send costs the gateway and nats-server more
// than the send itself.
type replies struct {
	nc *nats.Conn

	once   sync.Once
	err    error
	prefix string // reply subjects are prefix + token

	mu      sync.Mutex
	next    uint64
	waiting map[string]chan *nats.Msg
}

func (r *replies) start() error {
	r.once.Do(func() {
		r.prefix = r.nc.NewInbox() + "."
		r.waiting = map[string]chan *nats.Msg{}
		_, r.err = r.nc.Subscribe(r.prefix+"*", func(m *nats.Msg) {
			tok, ok := strings.CutPrefix(m.Subject, r.prefix)
			if !ok {
				return
			}
			r.mu.Lock()
			ch := r.waiting[tok]
			delete(r.waiting, tok) // only the first reply counts
			r.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		})
	})
	return r.err
}

// reply is one pending reply subject.
type reply struct {
	r       *replies
	tok     string
	Subject string
	ch      chan *nats.Msg
}

// open returns a new reply subject and its wait.
func (r *replies) open() (*reply, error) {
	if err := r.start(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.next++
	tok := strconv.FormatUint(r.next, 36)
	ch := make(chan *nats.Msg, 1)
	r.waiting[tok] = ch
	r.mu.Unlock()
	return &reply{r: r, tok: tok, Subject: r.prefix + tok, ch: ch}, nil
}

// wait returns the reply, or ctx's error.
func (p *reply) wait(ctx context.Context) (*nats.Msg, error) {
	select {
	case m := <-p.ch:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close forgets the subject; a late reply is dropped.
func (p *reply) close() {
	p.r.mu.Lock()
	delete(p.r.waiting, p.tok)
	p.r.mu.Unlock()
}
