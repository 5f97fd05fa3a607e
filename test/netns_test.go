package test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// netLab is a network of Linux network namespaces, one per simulated
// machine, each joined by a veth pair to a bridge in the test's own
// namespace (10.<n>.0.0/24; the test process is 10.<n>.0.1). Taking a
// machine's veth down cuts it off from every other one (a partition);
// bringing it up heals it. Everything is removed at cleanup.
type netLab struct {
	tb     testing.TB
	tag    string
	bridge string
	subnet string
	ns     map[string]string // machine → namespace
	veth   map[string]string // machine → its veth end on the bridge
	ip     map[string]string // machine → address
}

// newNetLab makes the machines, or skips the test when network namespaces
// cannot be made here (not root, no ip, a container without CAP_NET_ADMIN).
func newNetLab(tb testing.TB, machines ...string) *netLab {
	tb.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("network namespace tests: no ip command (iproute2)")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	tag := hex.EncodeToString(b)
	l := &netLab{tb: tb, tag: tag, bridge: "rgb" + tag, ns: map[string]string{}, veth: map[string]string{}, ip: map[string]string{}}
	// A /24 unlikely to be in use: 10.(100 + a random byte mod 100).
	l.subnet = fmt.Sprintf("10.%d.%d", 100+int(b[0])%100, int(b[1]))
	if out, err := exec.Command("ip", "netns", "add", "rgprobe"+tag).CombinedOutput(); err != nil {
		tb.Skipf("network namespace tests: ip netns add failed (%v: %s); run as root on Linux", err, strings.TrimSpace(string(out)))
	}
	_ = exec.Command("ip", "netns", "del", "rgprobe"+tag).Run()
	tb.Cleanup(l.remove)
	l.run("ip", "link", "add", l.bridge, "type", "bridge")
	l.run("ip", "addr", "add", l.subnet+".1/24", "dev", l.bridge)
	l.run("ip", "link", "set", l.bridge, "up")
	for i, m := range machines {
		ns := fmt.Sprintf("rg%s-%s", tag, m)
		veth := fmt.Sprintf("rgv%s%d", tag, i)
		ip := fmt.Sprintf("%s.%d", l.subnet, 10+i)
		l.run("ip", "netns", "add", ns)
		l.ns[m], l.veth[m], l.ip[m] = ns, veth, ip
		l.run("ip", "link", "add", veth, "type", "veth", "peer", "name", veth+"p")
		l.run("ip", "link", "set", veth+"p", "netns", ns)
		l.run("ip", "link", "set", veth, "master", l.bridge)
		l.run("ip", "link", "set", veth, "up")
		l.run("ip", "netns", "exec", ns, "ip", "addr", "add", ip+"/24", "dev", veth+"p")
		l.run("ip", "netns", "exec", ns, "ip", "link", "set", veth+"p", "up")
		l.run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	}
	return l
}

func (l *netLab) run(args ...string) {
	l.tb.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		l.tb.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (l *netLab) remove() {
	for _, ns := range l.ns {
		_ = exec.Command("ip", "netns", "del", ns).Run() // takes its veth pair along
	}
	_ = exec.Command("ip", "link", "del", l.bridge).Run()
}

// start runs bin inside machine m.
func (l *netLab) start(m, name, bin string, env []string, args ...string) *proc {
	l.tb.Helper()
	return startProc(l.tb, name, "ip", env, append([]string{"netns", "exec", l.ns[m], bin}, args...)...)
}

// cut partitions machine m from every other; heal undoes it.
func (l *netLab) cut(m string)  { l.run("ip", "link", "set", l.veth[m], "down") }
func (l *netLab) heal(m string) { l.run("ip", "link", "set", l.veth[m], "up") }

// TestNetns_Partitions runs the three NATS nodes (deploy/nats-cluster.conf,
// R3), two actor hosts and a gateway with a scheduler as separate network
// machines, and under the cluster load (6 clients: increments and reads on
// 30 counters, porcupine) partitions, for longer than JetStream's election
// timeout and the host TTL: first the NATS node leading the state stream
// from everything, then an actor host from NATS; each is healed. After
// each: no acknowledged increment lost, none doubled, one activation per
// generation, every counter answers; the test logs the time to recover.
func TestNetns_Partitions(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	bin := binDir(t)
	lab := newNetLab(t, "nats-1", "nats-2", "nats-3", "host-0", "host-1", "edge")
	var routes, urls []string
	for i := 1; i <= 3; i++ {
		ip := lab.ip[fmt.Sprintf("nats-%d", i)]
		routes = append(routes, ip+":6222")
		urls = append(urls, "nats://"+ip+":4222")
	}
	c := &natsCluster{tb: t, bin: bin}
	for i := 1; i <= 3; i++ {
		m := fmt.Sprintf("nats-%d", i)
		dir := t.TempDir()
		conf := filepath.Join(dir, "nats.conf")
		if err := os.WriteFile(conf, []byte(clusterConfAt(t, lab.ip[m], 4222, 8222, 6222, routes, filepath.Join(dir, "js"))), 0o600); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, lab.start(m, m, filepath.Join(bin, "nats-server"), []string{"NATS_SERVER_NAME=" + m}, "-c", conf))
		c.urls = append(c.urls, urls[i-1])
		c.mons = append(c.mons, "http://"+lab.ip[m]+":8222")
	}
	for i := range 3 {
		c.waitUp(i)
	}
	c.waitMetaLeader(60 * time.Second)

	mm := &mesh{tb: t, bin: bin, natsURL: c.url()}
	mm.env = append([]string{"RIVETGO_NATS_URL=" + mm.natsURL, "RIVETGO_KV_REPLICAS=3"}, meshEnv...)
	for i := range 2 {
		mm.hosts = append(mm.hosts, lab.start(fmt.Sprintf("host-%d", i), fmt.Sprintf("actorhost-%d", i), filepath.Join(bin, "actorhost"), mm.env))
	}
	mm.scheds = append(mm.scheds, lab.start("edge", "scheduler-0", filepath.Join(bin, "scheduler"), mm.env))
	gwURL := "http://" + lab.ip["edge"] + ":6420"
	mm.gws = append(mm.gws, lab.start("edge", "gateway-0", filepath.Join(bin, "gateway"), append(append([]string{}, mm.env...), "RIVETGO_HTTP_ADDR="+lab.ip["edge"]+":6420")))
	mm.gwURLs = append(mm.gwURLs, gwURL)
	// Ready when a host registered the example actors.
	waitFor(t, 90*time.Second, func() error {
		resp, err := http.Get(gwURL + "/metadata")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `"counter"`) {
			return fmt.Errorf("no host registered yet: %s", b)
		}
		return nil
	})
	nc, err := nats.Connect(c.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// Fewer clients than TestCluster_NodeLoss: a partition of the state
	// leader leaves every call in flight in doubt for its whole length, and
	// porcupine's search grows with the calls in doubt.
	r := startClLoad(t, gwURL, c.url(), 1, 6)
	defer r.stopLoad()
	time.Sleep(2 * time.Second)

	// 1. The state stream's leader, cut off from everything for 8 s (the
	// election timeout is a few seconds), then healed.
	victim := c.streamLeader(nc, "KV_rivet_state")
	if victim < 0 {
		victim = 0
	}
	node := fmt.Sprintf("nats-%d", victim+1)
	lab.cut(node)
	r.event("partition %s (state stream leader) from every machine", node)
	time.Sleep(8 * time.Second)
	lab.heal(node)
	r.event("heal %s", node)
	c.waitHealthy(victim, 120*time.Second)
	r.event("%s healthy", node)
	time.Sleep(3 * time.Second)

	// 2. An actor host cut off from NATS for 8 s (four host TTLs): its
	// actors move to the other host; when it comes back its session is
	// over and its late writes are fenced.
	lab.cut("host-0")
	r.event("partition host-0 from NATS")
	time.Sleep(8 * time.Second)
	lab.heal("host-0")
	r.event("heal host-0")
	time.Sleep(6 * time.Second)
	r.finish(t, mm.hosts)
	for _, p := range append(append([]*proc{}, mm.hosts...), mm.gws...) {
		select {
		case <-p.done:
			t.Errorf("%s exited: %v", p.name, p.err)
		default:
		}
	}
}
