package examples

import (
	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// InventoryState counts the inventory's writes; the items live in the
// actor's KV store, which grows past what state should hold.
type InventoryState struct {
	Puts    int64 `cbor:"puts"`
	Deletes int64 `cbor:"deletes"`
}

// InventoryItem is one entry of list(prefix).
type InventoryItem struct {
	Key   string `cbor:"key"`
	Value any    `cbor:"value"`
}

// InventoryContext is the context type of the inventory's actions.
type InventoryContext = actor.Context[InventoryState, struct{}]

// Inventory keeps items in c.KV: put(key, value) stores any JSON/CBOR value
// and returns the number of puts so far; get(key) returns the value or null;
// list(prefix) returns [{key, value}] in key order; remove(key) deletes;
// stats() returns the counts. Each put changes the state and a KV entry in
// one commit: after any crash both are there, or neither.
var Inventory = actor.New("inventory", actor.Config[InventoryState, struct{}]{}).
	Action("put", func(c *InventoryContext, key string, value any) (int64, error) {
		b, err := protocol.Marshal(value)
		if err != nil {
			return 0, err
		}
		if err := c.KV().Put([]byte(key), b); err != nil {
			return 0, err
		}
		c.State().Puts++
		return c.State().Puts, nil
	}).
	Action("get", func(c *InventoryContext, key string) (any, error) {
		b, ok, err := c.KV().Get([]byte(key))
		if err != nil || !ok {
			return nil, err
		}
		var v any
		err = protocol.Unmarshal(b, &v)
		return v, err
	}).
	Action("remove", func(c *InventoryContext, key string) error {
		c.State().Deletes++
		return c.KV().Delete([]byte(key))
	}).
	Action("list", func(c *InventoryContext, prefix string) ([]InventoryItem, error) {
		es, err := c.KV().List([]byte(prefix), actor.ListOptions{})
		if err != nil {
			return nil, err
		}
		out := make([]InventoryItem, 0, len(es))
		for _, e := range es {
			var v any
			if err := protocol.Unmarshal(e.Value, &v); err != nil {
				return nil, err
			}
			out = append(out, InventoryItem{Key: string(e.Key), Value: v})
		}
		return out, nil
	}).
	Action("stats", func(c *InventoryContext) InventoryState { return *c.State() })
