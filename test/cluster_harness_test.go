package test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// natsCluster is a 3-node nats-server cluster on loopback, each node started
// from deploy/nats-cluster.conf (so the tests run the deployed settings:
// JetStream, routes, sync_interval: always) with its ports and data folder
// moved to free local ones.
type natsCluster struct {
	tb    testing.TB
	bin   string
	nodes []*proc
	urls  []string
	mons  []string
}

// clusterConf is deploy/nats-cluster.conf with the ports of node i and its
// data folder; routes name every node's cluster port.
func clusterConf(tb testing.TB, client, mon, route int, routes []int, dir string) string {
	tb.Helper()
	addrs := make([]string, len(routes))
	for i, p := range routes {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	return clusterConfAt(tb, "127.0.0.1", client, mon, route, addrs, dir)
}

// clusterConfAt is clusterConf for a node listening on ip, with the route
// addresses (host:port) of every node.
func clusterConfAt(tb testing.TB, ip string, client, mon, route int, routes []string, dir string) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(file)), "deploy", "nats-cluster.conf"))
	if err != nil {
		tb.Fatal(err)
	}
	c := string(b)
	must := func(re, repl string) {
		r := regexp.MustCompile(re)
		if !r.MatchString(c) {
			tb.Fatalf("deploy/nats-cluster.conf has no line matching %s", re)
		}
		c = r.ReplaceAllString(c, repl)
	}
	must(`(?m)^listen: .*$`, fmt.Sprintf("listen: %s:%d", ip, client))
	must(`(?m)^http: .*$`, fmt.Sprintf("http: %s:%d", ip, mon))
	must(`(?m)store_dir: .*$`, fmt.Sprintf("store_dir: %q", dir))
	must(`(?m)^(\s+)listen: 0\.0\.0\.0:6222$`, fmt.Sprintf("${1}listen: %s:%d", ip, route))
	for i, a := range routes {
		must(fmt.Sprintf(`nats-route://nats-%d:6222`, i+1), "nats-route://"+a)
	}
	return c
}

// startCluster starts three nodes and waits until JetStream has a meta
// leader (the cluster formed).
func startCluster(tb testing.TB, bin string) *natsCluster {
	tb.Helper()
	c := &natsCluster{tb: tb, bin: bin}
	var client, mon, route [3]int
	for i := range 3 {
		client[i], mon[i], route[i] = freePort(tb), freePort(tb), freePort(tb)
	}
	for i := range 3 {
		dir := tb.TempDir()
		conf := filepath.Join(dir, "nats.conf")
		if err := os.WriteFile(conf, []byte(clusterConf(tb, client[i], mon[i], route[i], route[:], filepath.Join(dir, "js"))), 0o600); err != nil {
			tb.Fatal(err)
		}
		name := fmt.Sprintf("nats-%d", i+1)
		c.nodes = append(c.nodes, startProc(tb, name, filepath.Join(bin, "nats-server"), []string{"NATS_SERVER_NAME=" + name}, "-c", conf))
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", client[i]))
		c.mons = append(c.mons, fmt.Sprintf("http://127.0.0.1:%d", mon[i]))
	}
	for i := range 3 {
		c.waitUp(i)
	}
	c.waitMetaLeader(60 * time.Second)
	return c
}

// url is every node's client URL, comma-separated (RIVETGO_NATS_URL).
func (c *natsCluster) url() string { return strings.Join(c.urls, ",") }

// waitUp waits until node i accepts TCP connections.
func (c *natsCluster) waitUp(i int) {
	c.tb.Helper()
	waitFor(c.tb, 20*time.Second, func() error {
		conn, err := net.Dial("tcp", strings.TrimPrefix(c.urls[i], "nats://"))
		if err == nil {
			conn.Close()
		}
		return err
	})
}

// waitMetaLeader waits until JetStream answers account info (a meta leader
// was elected).
func (c *natsCluster) waitMetaLeader(d time.Duration) {
	c.tb.Helper()
	nc, err := nats.Connect(c.url())
	if err != nil {
		c.tb.Fatal(err)
	}
	defer nc.Close()
	waitFor(c.tb, d, func() error {
		m, err := nc.Request("$JS.API.INFO", nil, 2*time.Second)
		if err != nil {
			return err
		}
		if strings.Contains(string(m.Data), `"error"`) {
			return fmt.Errorf("%s", m.Data)
		}
		return nil
	})
}

// waitHealthy waits until node i's /healthz says ok (its JetStream assets
// caught up with the leaders).
func (c *natsCluster) waitHealthy(i int, d time.Duration) {
	c.tb.Helper()
	waitFor(c.tb, d, func() error {
		return httpOK(c.mons[i] + "/healthz")
	})
}

// streamLeader returns the index of the node that leads stream (-1 if none
// answers).
func (c *natsCluster) streamLeader(nc *nats.Conn, stream string) int {
	c.tb.Helper()
	js, err := nc.JetStream()
	if err != nil {
		c.tb.Fatal(err)
	}
	si, err := js.StreamInfo(stream)
	if err != nil || si.Cluster == nil {
		return -1
	}
	for i := range c.nodes {
		if si.Cluster.Leader == fmt.Sprintf("nats-%d", i+1) {
			return i
		}
	}
	return -1
}

// httpOK reports nil when a GET of url answers 200.
func httpOK(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// clusterMesh is a mesh on a 3-node cluster with every bucket and stream at
// R3; it starts no service (the tests choose the order).
func clusterMesh(tb testing.TB) (*mesh, *natsCluster) {
	tb.Helper()
	bin := binDir(tb)
	c := startCluster(tb, bin)
	m := &mesh{tb: tb, bin: bin, natsURL: c.url()}
	m.env = append([]string{"RIVETGO_NATS_URL=" + m.natsURL, "RIVETGO_KV_REPLICAS=3"}, meshEnv...)
	return m, c
}

// startGateway starts a gateway without waiting for it (addGateway waits
// for a host to register).
func (m *mesh) startGateway() *proc {
	m.tb.Helper()
	port := freePort(m.tb)
	p := startProc(m.tb, fmt.Sprintf("gateway-%d", len(m.gws)), filepath.Join(m.bin, "gateway"),
		append(append([]string{}, m.env...), fmt.Sprintf("RIVETGO_HTTP_ADDR=127.0.0.1:%d", port)))
	m.gws = append(m.gws, p)
	m.gwURLs = append(m.gwURLs, fmt.Sprintf("http://127.0.0.1:%d", port))
	return p
}

// nodeOf returns the index of the node that holds a client connection
// named name (the first found; -1 if none).
func (c *natsCluster) nodeOf(name string) int {
	c.tb.Helper()
	for i, mon := range c.mons {
		resp, err := http.Get(mon + "/connz?limit=1024")
		if err != nil {
			continue
		}
		var cz struct {
			Conns []struct {
				Name string `json:"name"`
			} `json:"connections"`
		}
		err = json.NewDecoder(resp.Body).Decode(&cz)
		resp.Body.Close()
		if err != nil {
			continue
		}
		for _, cn := range cz.Conns {
			if cn.Name == name {
				return i
			}
		}
	}
	return -1
}

// dial reports nil once node i accepts TCP connections.
func (c *natsCluster) dial(i int) error {
	conn, err := net.Dial("tcp", strings.TrimPrefix(c.urls[i], "nats://"))
	if err == nil {
		conn.Close()
	}
	return err
}
