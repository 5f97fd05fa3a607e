//go:build !unix

package gateway

// openFileLimit is unknown on this platform.
func openFileLimit() int { return 0 }
