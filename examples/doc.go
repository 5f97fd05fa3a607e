// Package examples holds the example actors that bin/actorhost and make run
// serve and that docs/ walks through: a counter, and a chat room list that
// coordinates chat rooms (RivetKit's coordinator pattern), an inventory on
// c.KV and a leaderboard on c.DB (SQLite).
package examples

import "github.com/rivetgo/rivetgo/pkg/actor"

// Registry returns a registry of every example actor.
func Registry() *actor.Registry { return actor.MustRegistry(Types()...) }

// Types returns every example actor, to register beside your own.
func Types() []actor.Type {
	return []actor.Type{Counter, ChatRoomList, ChatRoom, Sleepy, Inventory, Leaderboard, CounterWorker, Mailbox,
		Reminder, Alarm, Worker, Napper, LatencyProbe}
}
