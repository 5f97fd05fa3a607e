package buckets

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func TestRetry_TransientErrorsAreRetried(t *testing.T) {
	r := retrier{sleep: noSleep}
	n := 0
	err := r.do(context.Background(), "bucket b", func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("an attempt has no deadline of its own")
		}
		if n++; n < 4 {
			return context.DeadlineExceeded // a create left unanswered
		}
		return nil
	})
	if err != nil || n != 4 {
		t.Fatalf("err %v after %d attempts; want success on the 4th", err, n)
	}
}

func TestRetry_ConfigErrorsAreNot(t *testing.T) {
	r := retrier{sleep: noSleep}
	n := 0
	err := r.do(context.Background(), "bucket b", func(context.Context) error {
		n++
		return &jetstream.APIError{Code: 500, ErrorCode: errCodeReplicasNotSupported, Description: "replicas > 1 not supported in non-clustered mode"}
	})
	if n != 1 || err == nil || !strings.Contains(err.Error(), "bucket b: ") || !strings.Contains(err.Error(), "replicas > 1") {
		t.Fatalf("%d attempts, err %v; want one attempt and the server's reason", n, err)
	}
}

func TestRetry_GivesUpWhenCtxEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	r := retrier{sleep: func(ctx context.Context, _ time.Duration) error {
		if n == 3 {
			cancel()
		}
		return ctx.Err()
	}}
	err := r.do(ctx, "stream s", func(context.Context) error {
		n++
		return errors.New("nats: no responders available for request")
	})
	if n != 3 || err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") || !strings.Contains(err.Error(), "no responders") {
		t.Fatalf("%d attempts, err %v", n, err)
	}
}
