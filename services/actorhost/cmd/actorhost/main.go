// Command actorhost hosts rivetgo's example actors (counter, chatRoomList,
// chatRoom, sleepy, inventory, leaderboard, ...). Build your own host the same way with your registry.
package main

import (
	"context"
	"os"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/svc"
	"github.com/rivetgo/rivetgo/services/actorhost/cmd/internal/hostcmd"
)

func main() {
	svc.Main("actorhost", func(ctx context.Context, args []string) error {
		return hostcmd.Run(ctx, "actorhost", args, os.Getenv, os.Stderr, examples.Registry())
	})
}
