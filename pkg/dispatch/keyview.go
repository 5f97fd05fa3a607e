package dispatch

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// KeyView follows which keys exist in a bucket whose entries expire (the
// gateways bucket): a key is present from its first put until it is
// deleted or expires at the server.
type KeyView struct {
	kv  jetstream.KeyValue
	log zerolog.Logger

	mu    sync.Mutex
	keys  map[string]bool
	ready chan struct{}
}

// NewKeyView returns a view of kv; call Run to fill it.
func NewKeyView(kv jetstream.KeyValue, log zerolog.Logger) *KeyView {
	return &KeyView{kv: kv, log: log, keys: map[string]bool{}, ready: make(chan struct{})}
}

// Run follows the bucket until ctx is done.
func (v *KeyView) Run(ctx context.Context) error {
	for {
		err := v.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		v.log.Warn().Err(err).Str("bucket", v.kv.Bucket()).Msg("watch ended; restarting")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (v *KeyView) watch(ctx context.Context) error {
	w, err := v.kv.WatchAll(ctx, jetstream.MetaOnly())
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if e == nil {
				select {
				case <-v.ready:
				default:
					close(v.ready)
				}
				continue
			}
			v.mu.Lock()
			if e.Operation() == jetstream.KeyValuePut {
				v.keys[e.Key()] = true
			} else {
				delete(v.keys, e.Key())
			}
			v.mu.Unlock()
		}
	}
}

// Ready is closed once the initial state of the bucket was read.
func (v *KeyView) Ready() <-chan struct{} { return v.ready }

// Has reports whether key exists.
func (v *KeyView) Has(key string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.keys[key]
}
