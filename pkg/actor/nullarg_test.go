package actor

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

type nullCtx = Context[struct{}, struct{}]

// TestNullArgument: null for a parameter that cannot hold nil is
// actor/invalid_argument (it used to become the zero value: increment(0));
// parameters that can be nil take it.
func TestNullArgument(t *testing.T) {
	ctxType := reflect.TypeFor[*nullCtx]()
	refused := map[string]any{
		"int64":  func(c *nullCtx, n int64) {},
		"string": func(c *nullCtx, s string) {},
		"bool":   func(c *nullCtx, b bool) {},
		"struct": func(c *nullCtx, p struct{ X int }) {},
		"second": func(c *nullCtx, a int, b float64) {},
	}
	for name, fn := range refused {
		a, err := newAction(name, fn, ctxType)
		if err != nil {
			t.Fatal(err)
		}
		args := []byte{0x81, 0xf6} // [null]
		if len(a.params) == 2 {
			args = []byte{0x82, 0x01, 0xf7} // [1, undefined]
		}
		_, err = a.decodeArgs(args)
		var e *protocol.Error
		if !errors.As(err, &e) || !errors.Is(err, protocol.ErrInvalidArg) || e.HTTPStatus() != 400 {
			t.Errorf("%s: got %v, want a 400 actor/invalid_argument", name, err)
		}
	}
	accepted := map[string]any{
		"pointer":   func(c *nullCtx, p *int) {},
		"interface": func(c *nullCtx, v any) {},
		"slice":     func(c *nullCtx, xs []int) {},
		"map":       func(c *nullCtx, m map[string]int) {},
		"time":      func(c *nullCtx, t time.Time) {},
	}
	for name, fn := range accepted {
		a, err := newAction(name, fn, ctxType)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.decodeArgs([]byte{0x81, 0xf6}); err != nil {
			t.Errorf("%s: null refused: %v", name, err)
		}
	}
	// Values are not affected.
	a, _ := newAction("n", func(c *nullCtx, n int64) {}, ctxType)
	vals, err := a.decodeArgs([]byte{0x81, 0x05})
	if err != nil || vals[0].Int() != 5 {
		t.Errorf("[5]: %v %v", vals, err)
	}
}
