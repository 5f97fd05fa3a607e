// Package actor defines actors: long-lived, stateful objects addressed by a
// name and a key, with typed state, actions, connections, events, a run loop,
// durable queues, schedules, sends to other actors' queues, a key-value store
// and a SQLite database per actor.
//
// The package has two sides. Users see [New], [Definition.Action], [Config]
// and [Context]: they declare a kind and write its actions and hooks as plain
// Go, without locks. Hosts see [Activate], [Instance] and [Env]: an actor host
// (services/actorhost, or a test) activates a kind, hands it requests, and
// provides storage, ownership checks, event delivery and actor-to-actor calls
// through Env, which is split by capability ([Store], [Owner], [Emitter],
// [Caller], [Lifecycle]). This package imports neither NATS nor the host.
//
// # Execution
//
// Each active actor has one executor. Actions, connection hooks, raw requests
// and the Run loop take turns on it, as on a JavaScript event loop: one runs at
// a time, and another may run only while the current one waits in an await
// point ([Context.Client] calls, [Context.Await], [Context.Wait],
// [Context.SaveState], [Context.KeepAwake]). The code between two await points
// is a step.
//
// # Commits and the output gate
//
// Everything a step changed (its state, KV writes, SQLite changes, queue
// messages consumed and sent, schedules set and cancelled, and the journal
// that libraries such as pkg/workflow keep) becomes durable in one atomic
// commit. While a commit is in flight the next steps run on the new
// in-memory state; their changes are gathered into the following commit
// (group commit), so a hot actor does one write per round trip, not one per
// action. A step's reply, events and frames are released only when the commit
// covering it is acknowledged; a failed commit fails every step it covered and
// every step after it, and stops the activation (the host drops it, and the
// next activation starts from the last durable state).
package actor
