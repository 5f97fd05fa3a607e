package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binDir returns the folder with the service binaries: $RIVETGO_BIN (set by
// make test after make build), or a fresh build shared by the whole run.
func binDir(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test: skipped with -short")
	}
	binOnce.Do(func() {
		if d := os.Getenv("RIVETGO_BIN"); d != "" {
			binPath = d
			return
		}
		dir, err := os.MkdirTemp("", "rivetgo-bin-")
		if err != nil {
			binErr = err
			return
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Dir(filepath.Dir(file))
		for name, pkg := range map[string]string{
			"gateway":     "./services/gateway/cmd/gateway",
			"actorhost":   "./services/actorhost/cmd/actorhost",
			"testhost":    "./services/actorhost/cmd/testhost",
			"scheduler":   "./services/scheduler/cmd/scheduler",
			"inspector":   "./services/inspector/cmd/inspector",
			"healthcheck": "./cmd/healthcheck",
			"nats-server": "github.com/nats-io/nats-server/v2",
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				binErr = fmt.Errorf("build %s: %v\n%s", name, err, out)
				return
			}
		}
		binPath = dir
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

// freePort returns a free loopback TCP port.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a child process with its output kept for failure reports.
type proc struct {
	tb   testing.TB
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
	// bin, env and args start it again (restart).
	bin  string
	env  []string
	args []string
	// hostID is an actor host's RIVETGO_HOST_ID, new at every start (as a
	// random one would be), so the leases bucket tells which process
	// holds an actor.
	hostID string
}

// restart starts a process that exited again, with the same command,
// environment and name (its output goes on in a new buffer).
func (p *proc) restart() *proc {
	p.tb.Helper()
	<-p.done
	if p.hostID == "" {
		return startProc(p.tb, p.name, p.bin, p.env, p.args...)
	}
	env := slices.DeleteFunc(slices.Clone(p.env), func(e string) bool { return strings.HasPrefix(e, "RIVETGO_HOST_ID=") })
	id := newHostID(p.name)
	q := startProc(p.tb, p.name, p.bin, append(env, "RIVETGO_HOST_ID="+id), p.args...)
	q.hostID = id
	return q
}

// leases returns the lease of every active actor of m (actor id → the
// host session holding it), read from the leases bucket.
func (m *mesh) leases() (map[string]protocol.Lease, error) {
	nc, err := nats.Connect(m.natsURL)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, protocol.MustNames("rivet").BucketLeases())
	if err != nil {
		return nil, err
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]protocol.Lease{}
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, err
		}
		var l protocol.Lease
		if err := protocol.Unmarshal(e.Value(), &l); err != nil {
			return nil, err
		}
		out[k] = l
	}
	return out, nil
}

// held counts the actors each host process of m holds, by the leases
// bucket.
func (m *mesh) held() []int {
	m.tb.Helper()
	leases, err := m.leases()
	if err != nil {
		m.tb.Fatal(err)
	}
	n := make([]int, len(m.hosts))
	for _, l := range leases {
		for i, p := range m.hosts {
			if p.hostID == l.HostID {
				n[i]++
			}
		}
	}
	return n
}

// liveHost returns the running host process with host id id, or nil.
func (m *mesh) liveHost(id string) *proc {
	for _, p := range m.hosts {
		select {
		case <-p.done:
			continue
		default:
		}
		if p.hostID == id {
			return p
		}
	}
	return nil
}

// newHostID returns a host id for a start of host process name.
func newHostID(name string) string {
	return name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startProc(tb testing.TB, name, bin string, env []string, args ...string) *proc {
	tb.Helper()
	p := &proc{tb: tb, name: name, out: &syncBuffer{}, done: make(chan struct{}), bin: bin, env: env, args: args}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		if tb.Failed() && os.Getenv("RIVETGO_TEST_SIGQUIT") != "" {
			p.signal(syscall.SIGQUIT)
			time.Sleep(time.Second)
		}
		p.signal(syscall.SIGKILL)
		<-p.done
		if dir := os.Getenv("RIVETGO_TEST_LOGS"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(tb.Name(), "/", "_")+"-"+name+"-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".log"), []byte(p.out.String()), 0o644)
		}
		if tb.Failed() {
			out := p.out.String()
			if len(out) > 20000 {
				out = "…" + out[len(out)-20000:]
			}
			tb.Logf("--- output of %s ---\n%s", name, out)
		}
	})
	return p
}

func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// kill sends SIGKILL and waits for the process to exit.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits up to d for a clean exit.
func (p *proc) stop(d time.Duration) error {
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		p.kill()
		return fmt.Errorf("%s did not exit within %s", p.name, d)
	}
}

// mesh is a NATS server, gateways and actor hosts started as processes.
type mesh struct {
	tb      testing.TB
	bin     string
	natsURL string
	env     []string
	nats    *proc
	hosts   []*proc
	gws     []*proc
	gwURLs  []string
	scheds  []*proc
	insps   []*proc
}

// meshEnv are settings every service of a test mesh gets.
var meshEnv = []string{"RIVETGO_HOST_TTL=2s", "RIVETGO_LOG_LEVEL=debug"}

func startNATS(tb testing.TB, bin string) (*proc, string) {
	port := freePort(tb)
	dir := tb.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	cfg := fmt.Sprintf("listen: \"127.0.0.1:%d\"\nmax_payload: 8MB\njetstream { store_dir: %q }\n", port, filepath.Join(dir, "js"))
	if pp := os.Getenv("RIVETGO_BENCH_NATS_PROF"); pp != "" {
		// pprof of the server (go tool pprof http://127.0.0.1:PORT/debug/pprof/profile)
		cfg += "prof_port: " + pp + "\n"
	}
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	p := startProc(tb, "nats-server", filepath.Join(bin, "nats-server"), nil, "-c", conf)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	waitFor(tb, 10*time.Second, func() error {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err
	})
	return p, url
}

// newMesh starts NATS, one scheduler, one gateway and the given number of
// hosts.
func newMesh(tb testing.TB, hosts int) *mesh {
	tb.Helper()
	m := newMeshWith(tb, hosts, 1)
	return m
}

// newMeshWith is newMesh with a number of scheduler replicas.
func newMeshWith(tb testing.TB, hosts, schedulers int) *mesh {
	tb.Helper()
	m := &mesh{tb: tb, bin: binDir(tb)}
	m.nats, m.natsURL = startNATS(tb, m.bin)
	m.env = append([]string{"RIVETGO_NATS_URL=" + m.natsURL}, meshEnv...)
	for range hosts {
		m.addHost()
	}
	for range schedulers {
		m.addScheduler()
	}
	m.addGateway()
	return m
}

func (m *mesh) addScheduler(env ...string) *proc {
	m.tb.Helper()
	p := startProc(m.tb, fmt.Sprintf("scheduler-%d", len(m.scheds)), filepath.Join(m.bin, "scheduler"), append(append([]string{}, m.env...), env...))
	m.scheds = append(m.scheds, p)
	return p
}

func (m *mesh) addHost(env ...string) *proc {
	m.tb.Helper()
	name := fmt.Sprintf("actorhost-%d", len(m.hosts))
	id := newHostID(name)
	env = append(append(append([]string{}, m.env...), "RIVETGO_HOST_ID="+id), env...)
	for _, e := range env { // the caller's id, if it sets one
		if v, ok := strings.CutPrefix(e, "RIVETGO_HOST_ID="); ok {
			id = v
		}
	}
	// bin/testhost: bin/actorhost's command line with the examples and the
	// test fixtures (internal/testactors).
	p := startProc(m.tb, name, filepath.Join(m.bin, "testhost"), env)
	p.hostID = id
	m.hosts = append(m.hosts, p)
	return p
}

func (m *mesh) addGateway(env ...string) string {
	m.tb.Helper()
	port := freePort(m.tb)
	p := startProc(m.tb, fmt.Sprintf("gateway-%d", len(m.gws)), filepath.Join(m.bin, "gateway"),
		append(append(append([]string{}, m.env...), env...), fmt.Sprintf("RIVETGO_HTTP_ADDR=127.0.0.1:%d", port)))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	m.gws = append(m.gws, p)
	m.gwURLs = append(m.gwURLs, url)
	// Ready when /metadata lists the example actors (a host registered).
	waitFor(m.tb, 90*time.Second, func() error { // a liveness bound: R3 setup under load can take a while
		resp, err := http.Get(url + "/metadata")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var md struct {
			ActorNames map[string]any `json:"actorNames"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
			return err
		}
		if len(m.hosts) > 0 && md.ActorNames["counter"] == nil {
			return fmt.Errorf("no host registered yet")
		}
		return nil
	})
	return url
}

// stopAll kills every service (kill -9) and stops nats-server (SIGTERM).
func (m *mesh) stopAll() {
	m.tb.Helper()
	for _, p := range append(append(append([]*proc{}, m.gws...), m.scheds...), m.hosts...) {
		p.kill()
	}
	if err := m.nats.stop(10 * time.Second); err != nil {
		m.tb.Fatal(err)
	}
}

// startAll starts nats-server and every service again (after stopAll), the
// same commands on the same ports and data.
func (m *mesh) startAll() {
	m.tb.Helper()
	m.nats = m.nats.restart()
	waitFor(m.tb, 10*time.Second, func() error {
		c, err := net.Dial("tcp", strings.TrimPrefix(m.natsURL, "nats://"))
		if err == nil {
			c.Close()
		}
		return err
	})
	for _, ps := range [][]*proc{m.hosts, m.scheds, m.gws} {
		for i := range ps {
			ps[i] = ps[i].restart()
		}
	}
}

// addInspector starts an inspector (admin token: token; empty is dev mode)
// and returns its URL once it answers /health. newMesh starts none.
func (m *mesh) addInspector(token string) string {
	m.tb.Helper()
	port := freePort(m.tb)
	p := startProc(m.tb, fmt.Sprintf("inspector-%d", len(m.insps)), filepath.Join(m.bin, "inspector"),
		append(append([]string{}, m.env...), fmt.Sprintf("RIVETGO_HTTP_ADDR=127.0.0.1:%d", port), "RIVETGO_ADMIN_TOKEN="+token))
	m.insps = append(m.insps, p)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(m.tb, 20*time.Second, func() error {
		resp, err := http.Get(url + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %d", resp.StatusCode)
		}
		return nil
	})
	return url
}

// url is the first gateway's endpoint.
func (m *mesh) url() string { return m.gwURLs[0] }

// waitFor polls f until it returns nil or d passes.
func waitFor(tb testing.TB, d time.Duration, f func() error) {
	tb.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("condition not met within %s: %v", d, err)
}

func testCtx(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// rawPost posts body to the gateway and returns status, headers and body.
func rawPost(tb testing.TB, url string, headers map[string]string, body []byte) (int, http.Header, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b.Bytes()
}

func trim(b []byte) string { return strings.TrimSpace(string(b)) }
