// Command testhost is the actor host of the multi-process tests in test/:
// bin/actorhost's command line, serving the example actors and the test
// fixtures of internal/testactors (actors that exist only to be tested,
// such as one whose internal error must never reach a client). It is not
// a binary to deploy.
package main

import (
	"context"
	"os"

	"github.com/rivetgo/rivetgo/internal/testactors"
	"github.com/rivetgo/rivetgo/pkg/svc"
	"github.com/rivetgo/rivetgo/services/actorhost/cmd/internal/hostcmd"
)

func main() {
	svc.Main("testhost", func(ctx context.Context, args []string) error {
		return hostcmd.Run(ctx, "testhost", args, os.Getenv, os.Stderr, testactors.Registry())
	})
}
