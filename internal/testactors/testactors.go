// Package testactors holds actors that exist only for the multi-process
// tests: bin/testhost serves them beside the examples, bin/actorhost never
// does.
package testactors

import (
	"errors"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/actor"
)

// Fixture is the actor "fixture". failInternal returns a plain error whose
// message looks like a secret: the tests check that no client ever sees it
// (it is masked as rivetkit/internal_error).
var Fixture = actor.New("fixture", actor.Config[struct{}, struct{}]{}).
	Action("failInternal", func(c *actor.Context[struct{}, struct{}]) error {
		return errors.New("secret database password is hunter2")
	})

// Registry returns the example actors and the fixtures.
func Registry() *actor.Registry {
	return actor.MustRegistry(append(examples.Types(), Fixture)...)
}
