package actor

import (
	"reflect"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// A null (or undefined) argument for a parameter that cannot hold nil is
// refused: the CBOR decoder would leave the parameter's zero value, so
// {"args":[null]} would run increment(0) instead of failing. Parameters
// that can be nil take it: pointers, interfaces, slices and maps (rivetgo
// itself writes a nil slice or map as null), time.Time (the zero time is
// written as null) and types that decode themselves (cbor.Unmarshaler).

var (
	unmarshalerType = reflect.TypeFor[cbor.Unmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
)

// nullArg returns the error for raw, argument i of action a, when raw is
// CBOR null or undefined and parameter type t cannot take it; nil otherwise.
func (a *action) nullArg(i int, raw []byte, t reflect.Type) error {
	if len(raw) != 1 || (raw[0] != 0xf6 && raw[0] != 0xf7) {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return nil
	}
	if t == timeType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	return protocol.Errorf(protocol.GroupActor, protocol.CodeInvalidArgument,
		"argument %d of %q is null, which a %s cannot hold (declare the parameter as a pointer to accept null)", i+1, a.name, t)
}
