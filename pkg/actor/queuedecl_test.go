package actor_test

import (
	"strings"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/ref"
)

func mustPanicWith(t *testing.T, what, want string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), want) {
			t.Errorf("%s: panic %v, want one mentioning %q", what, r, want)
		}
	}()
	f()
}

// TestTypedQueueDeclarations: NewQueue checks its name and limits;
// TypedQueues join Queues; a name declared twice is refused at start;
// limits below the mesh's are reported for the host's registration.
func TestTypedQueueDeclarations(t *testing.T) {
	jobs := actor.NewQueue[map[string]int]("jobs", actor.QueueOptions{MaxMessages: 10})
	d := actor.New("tq", actor.Config[counter, vars]{
		Queues:      []string{"plain"},
		TypedQueues: []ref.AnyQueue{jobs, actor.NewQueue[string]("notes")},
	})
	if got := strings.Join(d.Queues(), ","); got != "jobs,notes,plain" {
		t.Errorf("queues: %s", got)
	}
	if l := d.QueueLimits(); len(l) != 1 || l["jobs"].MaxMessages != 10 {
		t.Errorf("limits below the mesh's: %v", l)
	}
	if got := d.QueueLimit("jobs").Messages(); got != 10 {
		t.Errorf("jobs holds %d", got)
	}
	if got := d.QueueLimit("plain"); got.Messages() != protocol.DefaultQueueMaxMessages || got.MessageBytes() != protocol.DefaultQueueMaxMessageBytes {
		t.Errorf("plain: %+v", got)
	}
	mustPanicWith(t, "bad name", "queue", func() { actor.NewQueue[int]("") })
	mustPanicWith(t, "too many", "MaxMessages", func() {
		actor.NewQueue[int]("q", actor.QueueOptions{MaxMessages: protocol.DefaultQueueMaxMessages + 1})
	})
	mustPanicWith(t, "too large", "MaxMessageBytes", func() { actor.NewQueue[int]("q", actor.QueueOptions{MaxMessageBytes: -1}) })
	mustPanicWith(t, "twice", "declared twice", func() {
		actor.New("tq2", actor.Config[counter, vars]{Queues: []string{"jobs"}, TypedQueues: []ref.AnyQueue{jobs}})
	})
	// The typed decode.
	m := &actor.QueueMessage{Queue: "jobs", Body: mustMarshal(t, map[string]int{"n": 3})}
	v, err := jobs.Decode(m)
	if err != nil || v["n"] != 3 {
		t.Errorf("decode: %v %v", v, err)
	}
	if _, err := actor.NewQueue[int]("n").Decode(m); err == nil {
		t.Error("a map decoded as an int")
	}
}
