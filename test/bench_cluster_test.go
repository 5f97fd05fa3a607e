package test

// BenchmarkCluster (docs/BENCHMARKS.md, docs/RELIABILITY.md): the cost of
// production durability, in one run. Each setup is its own mesh (one
// gateway, one actor host, as processes):
//
//	BenchmarkCluster/single-r1           one nats-server, default sync_interval (fsync every 2 min), R1
//	BenchmarkCluster/single-r1-always    one nats-server, sync_interval: always, R1
//	BenchmarkCluster/cluster-r3-always   3 nodes from deploy/nats-cluster.conf (sync_interval: always), R3
//
// and per setup the rows of BenchmarkAction: write (increment, one counter
// per client) at 1 and 64 clients, and hot (64 clients on one counter: the
// actor's group commit shares one write among the steps that queued).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/client"
)

func BenchmarkCluster(b *testing.B) {
	setups := []struct {
		name  string
		start func(b *testing.B) (*mesh, []namedProc)
	}{
		{"single-r1", func(b *testing.B) (*mesh, []namedProc) { return benchSingle(b, "") }},
		{"single-r1-always", func(b *testing.B) (*mesh, []namedProc) { return benchSingle(b, "sync_interval: always") }},
		{"cluster-r3-always", benchCluster},
	}
	for _, s := range setups {
		b.Run(s.name, func(b *testing.B) {
			m, natsProcs := s.start(b)
			m.addHost()
			m.addGateway()
			procs := append([]namedProc{{"edge", m.gws[0]}, {"back", m.hosts[0]}}, natsProcs...)
			clusterRows(b, m.url(), procs)
		})
	}
}

// benchSingle starts one nats-server with jsExtra in its jetstream block.
func benchSingle(b *testing.B, jsExtra string) (*mesh, []namedProc) {
	bin := binDir(b)
	port := freePort(b)
	dir := b.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	cfg := fmt.Sprintf("listen: \"127.0.0.1:%d\"\nmax_payload: 8MB\njetstream { store_dir: %q\n%s\n}\n", port, filepath.Join(dir, "js"), jsExtra)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	p := startProc(b, "nats-server", filepath.Join(bin, "nats-server"), nil, "-c", conf)
	m := &mesh{tb: b, bin: bin, nats: p, natsURL: fmt.Sprintf("nats://127.0.0.1:%d", port)}
	m.env = []string{"RIVETGO_NATS_URL=" + m.natsURL, "RIVETGO_LOG_LEVEL=warn"}
	waitFor(b, 10*time.Second, func() error { return (&natsCluster{urls: []string{m.natsURL}, tb: b}).dial(0) })
	return m, []namedProc{{"nats", p}}
}

func benchCluster(b *testing.B) (*mesh, []namedProc) {
	bin := binDir(b)
	c := startCluster(b, bin)
	m := &mesh{tb: b, bin: bin, natsURL: c.url()}
	m.env = []string{"RIVETGO_NATS_URL=" + m.natsURL, "RIVETGO_LOG_LEVEL=warn", "RIVETGO_KV_REPLICAS=3"}
	var procs []namedProc
	for i, p := range c.nodes {
		procs = append(procs, namedProc{fmt.Sprintf("nats%d", i+1), p})
	}
	return m, procs
}

// clusterRows runs write at 1 and 64 clients and hot at 64 against url.
func clusterRows(b *testing.B, url string, procs []namedProc) {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	c := client.New(url)
	key := func(w int) []string { return []string{"bench", strconv.Itoa(w)} }
	if err := parallel(64, func(w int) error {
		_, err := client.Call[int64](ctx, c.GetOrCreate("counter", key(w)...), "increment", 1)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	inc := func(k func(w int) []string) func(w int) func() error {
		return func(w int) func() error {
			h := c.GetOrCreate("counter", k(w)...)
			return func() error {
				_, err := client.Call[int64](ctx, h, "increment", 1)
				return err
			}
		}
	}
	for _, conc := range []int{1, 64} {
		b.Run(fmt.Sprintf("write/conc=%d", conc), func(b *testing.B) { measure(b, conc, procs, inc(key)) })
	}
	b.Run("hot/conc=64", func(b *testing.B) {
		measure(b, 64, procs, inc(func(int) []string { return []string{"bench", "hot"} }))
	})
}
