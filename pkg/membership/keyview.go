package membership

import (
	"context"
	"sync"

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
	follow(ctx, v.kv, v.log, v.ready, v.apply, jetstream.MetaOnly())
	return nil
}

func (v *KeyView) apply(e jetstream.KeyValueEntry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.Operation() == jetstream.KeyValuePut {
		v.keys[e.Key()] = true
	} else {
		delete(v.keys, e.Key())
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
