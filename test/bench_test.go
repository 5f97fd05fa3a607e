package test

// Benchmarks of one action through the whole multi-process mesh, and of the
// bare layers under it, all in one run so that each layer's cost shows:
//
//	BenchmarkAction/write      HTTP → gateway → NATS → actorhost → KV update → reply (increment)
//	BenchmarkAction/nowrite    the same without the KV write (getCount)
//	BenchmarkAction/json       increment with the JSON encoding instead of CBOR
//	BenchmarkAction/hot        64 clients incrementing one counter (group commit)
//	BenchmarkBaseline/natsreqrep  plain NATS request-reply to a responder process
//	BenchmarkBaseline/httpnats    HTTP → forwarder process → NATS → responder process
//	BenchmarkBaseline/httpnatskv  the same, the responder doing one KV update per request
//	BenchmarkDevMesh/...       write and nowrite against bin/rivetgo (everything in one process)
//
// Every service (nats-server, gateway, actorhost, and the baseline helpers) is
// its own OS process; the benchmark process is only the client. Each row
// reports p50_ms, p99_ms and actions/s, plus the CPU each process used per
// operation (edge = gateway or HTTP forwarder, back = actorhost or responder,
// nats = nats-server, mesh = the whole dev mesh, client = this process) and
// other-cores, the CPU that processes outside the benchmark used meanwhile
// (noise from a busy machine).
//
// Run with `make bench` (see docs/BENCHMARKS.md).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/client"
)

// benchConcs are the client concurrencies of the main rows.
var benchConcs = []int{1, 64}

// benchWarmup is how long each worker calls before the timed part of each
// benchmark round (connections opened, actors active, caches filled).
const benchWarmup = 150 * time.Millisecond

// newBenchMesh starts nats-server, one actorhost and one gateway as
// processes, logging at warn level (the test mesh logs at debug).
func newBenchMesh(b *testing.B) *mesh {
	b.Helper()
	m := &mesh{tb: b, bin: binDir(b)}
	m.nats, m.natsURL = startNATS(b, m.bin)
	m.env = []string{"RIVETGO_NATS_URL=" + m.natsURL, "RIVETGO_LOG_LEVEL=warn"}
	m.addHost()
	m.addGateway()
	return m
}

func BenchmarkAction(b *testing.B) {
	m := newBenchMesh(b)
	procs := []namedProc{{"edge", m.gws[0]}, {"back", m.hosts[0]}, {"nats", m.nats}}
	actionRows(b, m.url(), procs, true)
}

// BenchmarkDevMesh runs the same actions against bin/rivetgo, the one-process
// dev mesh (embedded nats-server, gateway and actor host in one process, in-
// process NATS connections): the most this machine gives without the process
// hops. It needs RIVETGO_BIN with rivetgo in it (make bench builds it).
func BenchmarkDevMesh(b *testing.B) {
	exe := filepath.Join(binDir(b), "rivetgo")
	if _, err := os.Stat(exe); err != nil {
		b.Skip("no rivetgo binary in RIVETGO_BIN (run make build)")
	}
	port := freePort(b)
	p := startProc(b, "rivetgo", exe, []string{"RIVETGO_LOG_LEVEL=warn"},
		"-data.dir", b.TempDir(), "-http.addr", fmt.Sprintf("127.0.0.1:%d", port), "-nats.port", "-1", "-log.level", "warn")
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(b, 30*time.Second, func() error {
		_, err := client.Call[int64](context.Background(), client.New(url).GetOrCreate("counter", "ready"), "getCount")
		return err
	})
	actionRows(b, url, []namedProc{{"mesh", p}}, false)
}

// actionRows runs the action rows against the gateway at url; all adds the
// JSON row.
func actionRows(b *testing.B, url string, procs []namedProc, all bool) {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	cborC := client.New(url) // default transport: keep-alive, 256 idle conns per host
	jsonC := client.New(url, client.WithEncoding(client.JSON))
	key := func(w int) []string { return []string{"bench", strconv.Itoa(w)} }

	// Create and activate one counter per client up front.
	if err := parallel(slices.Max(benchConcs), func(w int) error {
		_, err := client.Call[int64](ctx, cborC.GetOrCreate("counter", key(w)...), "increment", 1)
		return err
	}); err != nil {
		b.Fatal(err)
	}

	increment := func(c *client.Client) func(w int) func() error {
		return func(w int) func() error {
			h := c.GetOrCreate("counter", key(w)...)
			var last int64
			return func() error {
				n, err := client.Call[int64](ctx, h, "increment", 1)
				if err == nil && n <= last {
					err = fmt.Errorf("increment on %v returned %d after %d", key(w), n, last)
				}
				last = n
				return err
			}
		}
	}
	getCount := func(w int) func() error {
		h := cborC.GetOrCreate("counter", key(w)...)
		return func() error {
			n, err := client.Call[int64](ctx, h, "getCount")
			if err == nil && n <= 0 {
				err = fmt.Errorf("getCount on %v returned %d", key(w), n)
			}
			return err
		}
	}
	b.Run("write", func(b *testing.B) {
		for _, conc := range benchConcs {
			b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) { measure(b, conc, procs, increment(cborC)) })
		}
	})
	b.Run("nowrite", func(b *testing.B) {
		for _, conc := range benchConcs {
			b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) { measure(b, conc, procs, getCount) })
		}
	})
	// hot: every client calls the same counter, so its steps queue on one
	// actor and share commits (group commit behind the output gate).
	hot := func(int) func() error {
		h := cborC.GetOrCreate("counter", "bench", "hot")
		var last int64
		return func() error {
			n, err := client.Call[int64](ctx, h, "increment", 1)
			if err == nil && n <= last {
				err = fmt.Errorf("hot increment returned %d after %d", n, last)
			}
			last = n
			return err
		}
	}
	b.Run("hot", func(b *testing.B) {
		b.Run("conc=64", func(b *testing.B) { measure(b, 64, procs, hot) })
	})
	if all {
		b.Run("json", func(b *testing.B) {
			b.Run("conc=1", func(b *testing.B) { measure(b, 1, procs, increment(jsonC)) })
		})
	}
}

// Subjects the baseline responder serves.
const (
	benchSubjEcho = "bench.echo"
	benchSubjKV   = "bench.kv"
	benchBucket   = "BENCH_STATE"
)

// benchPayload is the size of the baseline requests and replies, about the
// size of the gateway↔host messages of a counter action.
const benchPayload = 48

func BenchmarkBaseline(b *testing.B) {
	bin := binDir(b)
	natsProc, natsURL := startNATS(b, bin)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)

	resp := startHelper(b, "bench-responder", "responder", "RIVETGO_BENCH_NATS_URL="+natsURL)
	httpPort := freePort(b)
	fwd := startHelper(b, "bench-forwarder", "forwarder", "RIVETGO_BENCH_NATS_URL="+natsURL,
		fmt.Sprintf("RIVETGO_BENCH_HTTP_ADDR=127.0.0.1:%d", httpPort))
	procs := []namedProc{{"edge", fwd}, {"back", resp}, {"nats", natsProc}}
	baseURL := fmt.Sprintf("http://127.0.0.1:%d", httpPort)

	nc, err := nats.Connect(natsURL, nats.Name("bench-client"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	waitFor(b, 20*time.Second, func() error {
		_, err := nc.Request(benchSubjKV, benchKeyPayload(0), time.Second)
		return err
	})
	hc := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}}
	waitFor(b, 20*time.Second, func() error { return httpCall(ctx, hc, baseURL+"/echo", benchKeyPayload(0)) })

	natsOp := func(w int) func() error {
		p := benchKeyPayload(w)
		return func() error {
			msg, err := nc.Request(benchSubjEcho, p, 10*time.Second)
			if err != nil {
				return err
			}
			return checkReply(msg.Data)
		}
	}
	httpOp := func(path string) func(w int) func() error {
		return func(w int) func() error {
			p := benchKeyPayload(w)
			u := baseURL + path
			return func() error { return httpCall(ctx, hc, u, p) }
		}
	}
	for _, row := range []struct {
		name  string
		op    func(w int) func() error
		procs []namedProc
	}{
		{"natsreqrep", natsOp, procs[1:]}, // the forwarder idles
		{"httpnats", httpOp("/echo"), procs},
		{"httpnatskv", httpOp("/kv"), procs},
	} {
		b.Run(row.name, func(b *testing.B) {
			for _, conc := range benchConcs {
				b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) { measure(b, conc, row.procs, row.op) })
			}
		})
	}
}

// benchKeyPayload is worker w's request: its key, padded to benchPayload.
func benchKeyPayload(w int) []byte {
	p := bytes.Repeat([]byte{'.'}, benchPayload)
	copy(p, "k"+strconv.Itoa(w))
	return p
}

// benchReply is the responder's reply.
var benchReply = bytes.Repeat([]byte{'r'}, benchPayload)

func checkReply(b []byte) error {
	if !bytes.Equal(b, benchReply) {
		return fmt.Errorf("bad reply %q", b)
	}
	return nil
}

func httpCall(ctx context.Context, hc *http.Client, u string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
	}
	return checkReply(data)
}

// --- measurement ---

type namedProc struct {
	name string
	p    *proc
}

// measure runs b.N operations spread over conc workers, each worker with its
// own op (made by newOp) called in a loop, timing every call. It reports
// p50_ms, p99_ms and actions/s over all calls, and the CPU time per op of
// each process.
func measure(b *testing.B, conc int, procs []namedProc, newOp func(w int) func() error) {
	if b.N > 1 {
		waitIdle(procs, benchIdleWait)
	}
	ops := make([]func() error, conc)
	for w := range ops {
		ops[w] = newOp(w)
	}
	deadline := time.Now().Add(benchWarmup)
	if err := parallel(conc, func(w int) error {
		for time.Now().Before(deadline) {
			if err := ops[w](); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatalf("warm-up: %v", err)
	}

	lats := make([][]time.Duration, conc)
	errs := make([]error, conc)
	var left atomic.Int64
	left.Store(int64(b.N))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for w := range conc {
		lats[w] = make([]time.Duration, 0, b.N/conc+16)
		wg.Go(func() {
			<-gate
			op, l := ops[w], lats[w]
			for left.Add(-1) >= 0 {
				t0 := time.Now()
				err := op()
				d := time.Since(t0)
				if err != nil {
					errs[w] = err
					left.Store(0)
					break
				}
				l = append(l, d)
			}
			lats[w] = l
		})
	}
	cpu0 := readCPU(procs)
	b.ResetTimer()
	start := time.Now()
	close(gate)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu1 := readCPU(procs)
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}

	all := slices.Concat(lats...)
	slices.Sort(all)
	n := len(all)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(all, 50)), "p50_ms")
	b.ReportMetric(ms(percentile(all, 99)), "p99_ms")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "actions/s")
	var ours float64
	for i, name := range cpu0.names {
		d := cpu1.ticks[i] - cpu0.ticks[i]
		ours += d
		b.ReportMetric(d*1e6/clkTck/float64(n), name+"-cpu-us/op")
	}
	if cpu0.total >= 0 && cpu1.total >= 0 {
		other := max(0, (cpu1.total-cpu0.total)-ours) / clkTck / elapsed.Seconds()
		b.ReportMetric(other, "other-cores")
	}
}

// benchIdleWait bounds how long a measured round waits for other processes
// on the machine to go quiet; benchIdleCores is what counts as quiet.
const (
	benchIdleWait  = 5 * time.Second
	benchIdleCores = 0.25
)

// waitIdle waits up to d until processes other than procs and this one use
// less than benchIdleCores of CPU over a 250 ms window. Other agents may share
// the machine; the other-cores metric shows what remained.
func waitIdle(procs []namedProc, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		s0 := readCPU(procs)
		time.Sleep(250 * time.Millisecond)
		s1 := readCPU(procs)
		if s0.total < 0 {
			return
		}
		var ours float64
		for i := range s0.ticks {
			ours += s1.ticks[i] - s0.ticks[i]
		}
		if (s1.total-s0.total-ours)/clkTck/0.25 < benchIdleCores {
			return
		}
	}
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100 // nearest rank
	return sorted[max(0, min(len(sorted), i)-1)]
}

// parallel runs f(0..n-1) in n goroutines and returns their errors joined.
func parallel(n int, f func(w int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() { errs[w] = f(w) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// clkTck is the kernel's clock tick (USER_HZ) of /proc CPU times.
const clkTck = 100.0

type cpuSample struct {
	names []string
	ticks []float64
	total float64 // busy ticks of the whole machine, -1 if unknown
}

// readCPU samples the CPU time of each process (all its threads), of this
// process ("client") and the busy time of the whole machine.
func readCPU(procs []namedProc) cpuSample {
	var s cpuSample
	for _, p := range procs {
		s.names = append(s.names, p.name)
		s.ticks = append(s.ticks, procTicks(strconv.Itoa(p.p.cmd.Process.Pid)))
	}
	s.names = append(s.names, "client")
	s.ticks = append(s.ticks, procTicks("self"))
	s.total = -1
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(data), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
		if len(f) >= 9 && f[0] == "cpu" {
			s.total = 0
			for _, i := range []int{1, 2, 3, 6, 7, 8} {
				v, _ := strconv.ParseFloat(f[i], 64)
				s.total += v
			}
		}
	}
	return s
}

// procTicks is utime+stime of /proc/<pid>/stat, in clock ticks.
func procTicks(pid string) float64 {
	data, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after ")" are fixed.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64) // field 14: utime
	k, _ := strconv.ParseFloat(f[12], 64) // field 15: stime
	return u + k
}

// --- helper processes of BenchmarkBaseline ---

// benchHelperEnv selects the role of a re-executed test binary.
const benchHelperEnv = "RIVETGO_BENCH_HELPER"

// startHelper runs this test binary again as a helper process with role.
func startHelper(b *testing.B, name, role string, env ...string) *proc {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	return startProc(b, name, exe, append([]string{benchHelperEnv + "=" + role}, env...),
		"-test.run=^TestBenchHelper$", "-test.timeout=0", "-test.count=1")
}

// TestBenchHelper is not a test: it is the body of BenchmarkBaseline's
// helper processes, and is skipped unless RIVETGO_BENCH_HELPER is set.
//
//	responder: answers bench.echo at once, and bench.kv after one JetStream
//	           KV Update with the expected revision of the caller's key
//	           (each message in its own goroutine, as the actorhost does).
//	forwarder: an HTTP server whose POST /echo and /kv send the body as a
//	           NATS request to bench.echo / bench.kv and answer with the reply
//	           (what the gateway does, without its logic).
func TestBenchHelper(t *testing.T) {
	role := os.Getenv(benchHelperEnv)
	if role == "" {
		t.Skip("helper process of BenchmarkBaseline")
	}
	nc, err := nats.Connect(os.Getenv("RIVETGO_BENCH_NATS_URL"), nats.Name("bench-"+role))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	switch role {
	case "responder":
		benchResponder(t, nc)
	case "forwarder":
		benchForwarder(t, nc)
	default:
		t.Fatalf("unknown helper role %q", role)
	}
}

func benchResponder(t *testing.T, nc *nats.Conn) {
	ctx := context.Background()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: benchBucket, History: 1, Storage: jetstream.FileStorage, Replicas: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe(benchSubjEcho, func(m *nats.Msg) { _ = m.Respond(benchReply) }); err != nil {
		t.Fatal(err)
	}
	type keyState struct {
		mu  sync.Mutex
		rev uint64
	}
	var (
		mu   sync.Mutex
		keys = map[string]*keyState{}
	)
	value := bytes.Repeat([]byte{'v'}, 24) // about a counter's encoded state record
	handle := func(m *nats.Msg) {
		key := string(bytes.TrimRight(m.Data, "."))
		mu.Lock()
		ks := keys[key]
		if ks == nil {
			ks = &keyState{}
			keys[key] = ks
		}
		mu.Unlock()
		ks.mu.Lock()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		rev, err := kv.Update(cctx, key, value, ks.rev)
		cancel()
		if err == nil {
			ks.rev = rev
		}
		ks.mu.Unlock()
		if err != nil {
			_ = m.Respond([]byte("ERR " + err.Error()))
			return
		}
		_ = m.Respond(benchReply)
	}
	inbox := make(chan *nats.Msg, 1<<16)
	if _, err := nc.ChanSubscribe(benchSubjKV, inbox); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for m := range inbox {
		go handle(m)
	}
}

func benchForwarder(t *testing.T, nc *nats.Conn) {
	subj := map[string]string{"/echo": benchSubjEcho, "/kv": benchSubjKV}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := subj[r.URL.Path]
		if !ok || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		msg, err := nc.RequestWithContext(ctx, s, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(msg.Data)))
		_, _ = w.Write(msg.Data)
	})
	ln, err := net.Listen("tcp", os.Getenv("RIVETGO_BENCH_HTTP_ADDR"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	t.Fatal(srv.Serve(ln))
}
