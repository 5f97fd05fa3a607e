package test

import (
	"context"
	"errors"
	"io"
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

// TestRivetKitJSClient runs test/js/client.test.mjs, the unmodified RivetKit
// client (rivetkit/client, pinned in test/js/package.json), against a mesh
// of a gateway and one actor host, in the json, cbor and bare encodings.
// `make js-deps` installs the client.
func TestRivetKitJSClient(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	_, file, _, _ := runtime.Caller(0)
	jsDir := filepath.Join(filepath.Dir(file), "js")
	script := filepath.Join(jsDir, "client.test.mjs")

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

	m := newMesh(t, 1)

	ctx, cancel := context.WithTimeout(context.Background(), jsTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", script)
	cmd.Dir = jsDir
	cmd.Env = append(jsEnv(os.Environ()), "RIVET_ENDPOINT="+m.url())
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
	err = cmd.Run()
	elapsed := time.Since(start).Round(time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("node did not finish within %s; its output:\n%s", jsTimeout, out.String())
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("node --test failed (%v) after %s; its output:\n%s", err, elapsed, out.String())
		}
		t.Fatalf("run node: %v\n%s", err, out.String())
	}
	// Exit 0 with no test run would hide a broken file: require passes.
	if mt := regexp.MustCompile(`(?m)^ℹ pass (\d+)$`).FindStringSubmatch(out.String()); mt == nil {
		t.Fatalf("node exited 0 but printed no summary; its output:\n%s", out.String())
	} else if n, _ := strconv.Atoi(mt[1]); n == 0 {
		t.Fatalf("node exited 0 but no test passed; its output:\n%s", out.String())
	}
	if !testing.Verbose() {
		t.Logf("node --test passed in %s", elapsed)
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
		if strings.HasPrefix(k, "RIVET_") && !strings.HasPrefix(k, "RIVET_LOG_") {
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
