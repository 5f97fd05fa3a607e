// Package ticker runs periodic work: renewals, sweeps and scans that every
// rivetgo service does on a timer.
package ticker

import (
	"context"
	"time"
)

// Every calls fn every d until ctx is done; the first call comes after d.
// fn runs on the caller's goroutine, so a slow fn delays the next tick
// rather than overlapping it.
func Every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}
