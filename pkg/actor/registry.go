package actor

import (
	"context"
	"fmt"
	"sort"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Type is an actor kind as a host sees it. Only [*Definition] implements it.
type Type interface {
	Name() string
	Options() Options
	Actions() []string
	// Queues returns the declared queue names, sorted.
	Queues() []string
	// QueueLimit returns one queue's own limits (zero: the mesh's), and
	// QueueLimits those below the mesh's, by queue.
	QueueLimit(queue string) protocol.QueueLimits
	QueueLimits() map[string]protocol.QueueLimits
	activate(ctx context.Context, p ActivateParams) (Instance, error)
}

// Registry is the set of actor kinds one host serves, the Go counterpart of
// RivetKit's setup({use: {...}}). It is immutable and safe for concurrent use.
type Registry struct {
	types map[string]Type
	names []string
}

// NewRegistry returns a registry of the given kinds. Names must be unique.
func NewRegistry(types ...Type) (*Registry, error) {
	r := &Registry{types: make(map[string]Type, len(types))}
	for _, t := range types {
		if _, dup := r.types[t.Name()]; dup {
			return nil, fmt.Errorf("actor: kind %q registered twice", t.Name())
		}
		r.types[t.Name()] = t
		r.names = append(r.names, t.Name())
	}
	sort.Strings(r.names)
	return r, nil
}

// MustRegistry is NewRegistry that panics on error, for package-level setup.
func MustRegistry(types ...Type) *Registry {
	r, err := NewRegistry(types...)
	if err != nil {
		panic(err)
	}
	return r
}

// Lookup returns the kind called name.
func (r *Registry) Lookup(name string) (Type, bool) {
	t, ok := r.types[name]
	return t, ok
}

// Names returns the sorted kind names.
func (r *Registry) Names() []string { return r.names }
