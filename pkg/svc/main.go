package svc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Main is a service binary's main: --version prints the version; otherwise
// run gets a context cancelled on SIGINT or SIGTERM and the command-line
// arguments; an error other than -help is printed as "<name>: <error>" and
// exits 1.
func Main(name string, run func(ctx context.Context, args []string) error) {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		PrintVersion(os.Stdout, name)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
