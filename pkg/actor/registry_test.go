package actor_test

import (
	"strings"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/actor"
)

func TestRegistry(t *testing.T) {
	a := actor.New("zeta", actor.Config[empty, empty]{}).Action("x", func(c *ectx) {})
	b := actor.New("alpha", actor.Config[counter, vars]{})
	c := actor.New("mid", actor.Config[empty, empty]{})
	r, err := actor.NewRegistry(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	deepEq(t, "Names", r.Names(), []string{"alpha", "mid", "zeta"})
	typ, ok := r.Lookup("zeta")
	if !ok || typ.Name() != "zeta" {
		t.Fatalf("Lookup(zeta) = %v, %v", typ, ok)
	}
	deepEq(t, "Actions", typ.Actions(), []string{"x"})
	eq(t, "Options", typ.Options().MaxStateBytes, actor.DefaultMaxStateBytes)
	if typ, ok := r.Lookup("nope"); ok || typ != nil {
		t.Errorf("Lookup(nope) = %v, %v", typ, ok)
	}
	if _, ok := r.Lookup(""); ok {
		t.Error("Lookup(\"\") found a kind")
	}

	empty, err := actor.NewRegistry()
	if err != nil || len(empty.Names()) != 0 {
		t.Errorf("empty registry: %v %v", empty.Names(), err)
	}

	dup := actor.New("mid", actor.Config[counter, vars]{})
	if _, err := actor.NewRegistry(a, c, dup); err == nil || !strings.Contains(err.Error(), `"mid" registered twice`) {
		t.Errorf("duplicate kind: %v", err)
	}
	if _, err := actor.NewRegistry(a, a); err == nil {
		t.Error("same definition twice accepted")
	}
	if r := actor.MustRegistry(a, b); len(r.Names()) != 2 {
		t.Errorf("MustRegistry: %v", r.Names())
	}
	defer func() {
		if recover() == nil {
			t.Error("MustRegistry with duplicates did not panic")
		}
	}()
	actor.MustRegistry(a, dup, c)
}
