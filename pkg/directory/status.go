package directory

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Status is what the mesh records of an actor's activity.
type Status struct {
	// Awake reports that a host session holds the actor's lease.
	Awake bool
	// Holder is that session (zero when asleep). A lease outlives a host
	// that crashed by up to one host TTL: check it against the live hosts
	// (membership.HostView.IsLive) when that matters.
	Holder protocol.Lease
	// SleepMS is when the actor last went to sleep (Unix ms); 0 while it
	// is awake or when it never slept (never activated, or crashed).
	SleepMS int64
}

// Activity reads actor status from the leases bucket (who holds an actor)
// and the state bucket (when it last slept), so that readers need not know
// how hosts lay those buckets out. It is safe for concurrent use.
type Activity struct {
	leases, state jetstream.KeyValue
}

// NewActivity returns an Activity over the leases and state buckets.
func NewActivity(leases, state jetstream.KeyValue) *Activity {
	return &Activity{leases: leases, state: state}
}

// Status returns actor id's status. An actor with no lease and no state
// record (never activated) is asleep with SleepMS 0.
func (a *Activity) Status(ctx context.Context, id string) (Status, error) {
	var st Status
	le, err := a.leases.Get(ctx, protocol.LeaseKey(id))
	switch {
	case err == nil:
		st.Awake = true
		if err := protocol.Unmarshal(le.Value(), &st.Holder); err != nil {
			return st, fmt.Errorf("directory: decode lease %s: %w", id, err)
		}
		return st, nil
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return st, fmt.Errorf("directory: read lease: %w", err)
	}
	e, err := a.state.Get(ctx, protocol.StateKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("directory: read state: %w", err)
	}
	var rec protocol.StateRecord
	if err := protocol.Unmarshal(e.Value(), &rec); err != nil {
		return st, fmt.Errorf("directory: decode state %s: %w", id, err)
	}
	st.SleepMS = rec.SleepMS
	return st, nil
}
