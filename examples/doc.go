// Package examples holds the example actors that bin/actorhost and make run
// serve and that docs/ walks through: a counter, and a chat room list that
// coordinates chat rooms (RivetKit's coordinator pattern).
package examples

import "github.com/rivetgo/rivetgo/pkg/actor"

// Registry returns a registry of every example actor.
func Registry() *actor.Registry {
	return actor.MustRegistry(Counter, ChatRoomList, ChatRoom, Sleepy, Inventory, CounterWorker, Mailbox, Reminder, Alarm, Worker, Napper, LatencyProbe)
}
