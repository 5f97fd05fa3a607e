package rkproto

// CheckValue checks a CBOR value a client sent outside an action request
// (a queue message body published straight to NATS, for instance) against
// the limits action arguments get, and applies the compat layer (RivetKit's
// JSON-compatible special values, JavaScript floats that are integers,
// indefinite lengths). It returns the value as rivetgo's own CBOR.
func CheckValue(b []byte) ([]byte, error) {
	if err := checkUserCBOR(b); err != nil {
		return nil, err
	}
	out, err := cborFromClient(b)
	if err != nil {
		return nil, err
	}
	if err := checkUserCBOR(out); err != nil {
		return nil, err
	}
	return out, nil
}
