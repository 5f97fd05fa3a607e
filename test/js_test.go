package test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// jsTimeout bounds the whole Node run: three encodings of eight to eleven
// tests, the slowest a get on a missing key (24 client retries, ~2.5 s).
const jsTimeout = 3 * time.Minute

// jsRealtimeTimeout bounds the Node run of realtime.test.mjs: three
// encodings, each killing the host of a connected actor and waiting for
// the client to reconnect (a host TTL of 2 s and the client's backoff).
const jsRealtimeTimeout = 4 * time.Minute

// TestRivetKitJSClient runs test/js/client.test.mjs, the unmodified RivetKit
// client (rivetkit/client, pinned in test/js/package.json), against a mesh
// of a gateway and one actor host, in the json, cbor and bare encodings.
// `make js-deps` installs the client.
func TestRivetKitJSClient(t *testing.T) {
	node, jsDir := jsSetup(t)
	m := newMesh(t, 1)
	runNode(t, node, jsDir, "client.test.mjs", jsTimeout, []string{"RIVET_ENDPOINT=" + m.url()}, nil)
}

// TestRivetKitJSClientRealtime runs test/js/realtime.test.mjs: connections
// (handle.connect(), events, actions and errors over the socket), raw
// fetch and raw WebSocket, a refused connection, and reconnection after the
// host holding a connected actor is killed, against a mesh of a gateway and
// two actor hosts. The Node tests ask for that kill through a small HTTP
// control server (RIVETGO_TEST_CONTROL): POST /kill-holder?actor_id=<id>
// kills -9 the live host that activated the actor and starts a replacement
// host, so that every encoding's kill leaves two hosts.
func TestRivetKitJSClientRealtime(t *testing.T) {
	node, jsDir := jsSetup(t)
	m := newMesh(t, 2)
	jobs := make(chan func())
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/kill-holder" {
			http.Error(w, "POST /kill-holder?actor_id=<id>", http.StatusNotFound)
			return
		}
		id := r.URL.Query().Get("actor_id")
		type result struct {
			killed string
			err    error
		}
		res := make(chan result, 1)
		// The mesh is the test goroutine's: run the kill there.
		job := func() {
			p, err := rtHolder(m, id)
			if err != nil {
				res <- result{err: err}
				return
			}
			p.kill()
			m.addHost()
			t.Logf("killed %s, the host of actor %s, and started %s", p.name, id, m.hosts[len(m.hosts)-1].name)
			res <- result{killed: p.name}
		}
		select {
		case jobs <- job:
		case <-r.Context().Done():
			return
		}
		select {
		case rr := <-res:
			if rr.err != nil {
				http.Error(w, rr.err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"killed": rr.killed})
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(ctl.Close)
	runNode(t, node, jsDir, "realtime.test.mjs", jsRealtimeTimeout,
		[]string{"RIVET_ENDPOINT=" + m.url(), "RIVETGO_TEST_CONTROL=" + ctl.URL}, jobs)
}

// jsSetup returns node's path and the folder of the JS tests, or skips
// (fails under CI or make test) when Node or the client is missing.
func jsSetup(t *testing.T) (node, jsDir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	_, file, _, _ := runtime.Caller(0)
	jsDir = filepath.Join(filepath.Dir(file), "js")

	// Missing Node or client: a skip on a developer's machine, a failure
	// where the tests are meant to run (CI, make test).
	missing := t.Skipf
	if os.Getenv("CI") != "" || os.Getenv("RIVETGO_BIN") != "" {
		missing = t.Fatalf
	}
	if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "rivetkit", "package.json")); err != nil {
		missing("the RivetKit client is not installed in %s (%v): run `make js-deps`", jsDir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH (%v): the RivetKit client tests need Node.js and `make js-deps`", err)
	}
	return node, jsDir
}

// runNode runs `node --test` on script with env added, and fails the test
// unless it exits 0 having passed at least one test. While it runs, the
// functions received on jobs run on the test goroutine (nil: none).
func runNode(t *testing.T, node, jsDir, script string, timeout time.Duration, env []string, jobs <-chan func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", filepath.Join(jsDir, script))
	cmd.Dir = jsDir
	cmd.Env = append(jsEnv(os.Environ()), env...)
	// node --test runs the file in a child process: kill the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out syncBuffer
	var w io.Writer = &out
	if testing.Verbose() {
		w = io.MultiWriter(&out, os.Stdout)
	}
	cmd.Stdout, cmd.Stderr = w, w

	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("run node: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case job := <-jobs:
			job()
		}
	}
	elapsed := time.Since(start).Round(time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("node did not finish %s within %s; its output:\n%s", script, timeout, out.String())
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("node --test %s failed (%v) after %s; its output:\n%s", script, err, elapsed, out.String())
		}
		t.Fatalf("run node: %v\n%s", err, out.String())
	}
	// Exit 0 with no test run would hide a broken file: require passes.
	if mt := regexp.MustCompile(`(?m)^ℹ pass (\d+)$`).FindStringSubmatch(out.String()); mt == nil {
		t.Fatalf("node exited 0 but printed no summary; its output:\n%s", out.String())
	} else if n, _ := strconv.Atoi(mt[1]); n == 0 {
		t.Fatalf("node exited 0 but no test passed; its output:\n%s", out.String())
	}
	// A skipped test would hide a missing feature: require none.
	if mt := regexp.MustCompile(`(?m)^ℹ skipped (\d+)$`).FindStringSubmatch(out.String()); mt != nil && mt[1] != "0" {
		t.Fatalf("node skipped %s tests; its output:\n%s", mt[1], out.String())
	}
	if !testing.Verbose() {
		t.Logf("node --test %s passed in %s", script, elapsed)
	}
}

// jsEnv is the environment of the Node run: the caller's, less the RIVET_*
// settings the client would read instead of its options (token, namespace,
// pool, engine), with the client's warnings off unless asked for: the tests
// provoke error responses on purpose.
func jsEnv(environ []string) []string {
	var env []string
	logLevel := false
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if (strings.HasPrefix(k, "RIVET_") && !strings.HasPrefix(k, "RIVET_LOG_")) || strings.HasPrefix(k, "RIVETGO_TEST_") {
			continue
		}
		logLevel = logLevel || k == "RIVET_LOG_LEVEL"
		env = append(env, kv)
	}
	if !logLevel {
		env = append(env, "RIVET_LOG_LEVEL=error")
	}
	return env
}
