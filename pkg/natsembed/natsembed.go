// Package natsembed runs a NATS server with JetStream inside the current
// process, for development (make run) and tests.
package natsembed

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config configures an embedded server.
type Config struct {
	// Host and Port to listen on for clients. Port 0 picks 4222; -1 picks
	// a free port; use DontListen to accept in-process connections only.
	Host       string
	Port       int
	DontListen bool
	// StoreDir holds JetStream data. Required.
	StoreDir string
	// SyncAlways fsyncs every JetStream write (survives power loss of this
	// machine; about 4k writes/s on the reference machine).
	SyncAlways bool
	// MaxPayload is the largest NATS message. Optional. Default: 8 MiB.
	MaxPayload int32
}

// Start starts a server and waits until it accepts connections.
func Start(cfg Config) (*server.Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("natsembed: StoreDir is required")
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = 8 << 20
	}
	opts := &server.Options{
		ServerName: "rivetgo-embedded",
		Host:       cfg.Host,
		Port:       cfg.Port,
		DontListen: cfg.DontListen,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: cfg.SyncAlways,
		MaxPayload: cfg.MaxPayload,
		NoSigs:     true,
		NoLog:      true,
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	// nats-server reports a failure to listen (a port in use) only to its
	// logger, and then never becomes ready: watch for it while waiting.
	fatal := newFatalLog()
	s.SetLoggerV2(fatal, false, false, false)
	go s.Start()
	deadline := time.Now().Add(startTimeout)
	for !s.ReadyForConnections(readyPoll) {
		select {
		case err := <-fatal.ch:
			s.Shutdown()
			return nil, fmt.Errorf("natsembed: %w", err)
		default:
		}
		if time.Now().After(deadline) {
			s.Shutdown()
			return nil, fmt.Errorf("natsembed: server not ready after %s", startTimeout)
		}
	}
	return s, nil
}

// startTimeout bounds Start's wait for the server; readyPoll is how often
// it looks for a fatal error meanwhile.
const (
	startTimeout = 10 * time.Second
	readyPoll    = 25 * time.Millisecond
)
