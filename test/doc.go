// Package test holds rivetgo's integration tests and benchmarks. They start
// nats-server, the gateway and actor hosts as separate OS processes on
// loopback and drive them through pkg/client and the RivetKit JS client. They
// are skipped under -short.
package test
