package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// queueSubject is `rivetgo queue-subject ACTOR QUEUE [KEY PART...]`: it
// prints the subject to publish to (with `nats pub --jetstream`) for that
// actor's queue, every key part escaped by the one key codec, so nobody
// escapes a key by hand.
func queueSubject(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rivetgo queue-subject", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := fs.String("prefix", envOr(getenv, "RIVETGO_PREFIX", "rivet"), "subject and bucket prefix (env RIVETGO_PREFIX)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rivetgo queue-subject [--prefix P] ACTOR QUEUE [KEY PART...]")
		fmt.Fprintln(stderr, "prints the NATS subject of an actor's queue, for: nats pub --jetstream \"$(rivetgo queue-subject ...)\" '{...}'")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		fs.Usage()
		return fmt.Errorf("queue-subject needs an actor name and a queue name")
	}
	names, err := protocol.NewNames(*prefix)
	if err != nil {
		return err
	}
	name, queue, key := fs.Arg(0), fs.Arg(1), fs.Args()[2:]
	if err := protocol.ValidateName(name); err != nil {
		return err
	}
	if err := protocol.ValidateQueueName(queue); err != nil {
		return err
	}
	if err := protocol.ValidateKey(key); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, names.QueueSubject(name, queue, key))
	return err
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}
