package actor

import "github.com/rivetgo/rivetgo/pkg/ref"

// Action0 registers an action without arguments on d and returns its typed
// reference (see package ref): a typed action is an ordinary action (JS
// clients call it by name), whose callers in Go get checked types.
func Action0[S, V, R any](d *Definition[S, V], name string, fn func(c *Context[S, V]) (R, error)) ref.Action0[R] {
	d.Action(name, fn)
	return ref.Action0[R]{Name: name}
}

// Action1 registers an action taking one argument on d and returns its
// typed reference.
func Action1[S, V, A, R any](d *Definition[S, V], name string, fn func(c *Context[S, V], a A) (R, error)) ref.Action1[A, R] {
	d.Action(name, fn)
	return ref.Action1[A, R]{Name: name}
}

// Action2 registers an action taking two arguments on d and returns its
// typed reference.
func Action2[S, V, A, B, R any](d *Definition[S, V], name string, fn func(c *Context[S, V], a A, b B) (R, error)) ref.Action2[A, B, R] {
	d.Action(name, fn)
	return ref.Action2[A, B, R]{Name: name}
}
