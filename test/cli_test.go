package test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rivetgoCLI runs bin/rivetgo with args and env; it returns stdout,
// stderr and whether it exited 0.
func rivetgoCLI(t *testing.T, bin string, env []string, args ...string) (string, string, bool) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "rivetgo"), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return out.String(), errb.String(), err == nil
}

// TestCLI_Actors runs the built `rivetgo actors` against real processes
// (a gateway with an admin token): ls lists a name's actors, get prints
// one, state prints its state decoded as JSON with the admin token (from
// RIVETGO_ADMIN_TOKEN or --admin-token) or the actor's own token, and
// refusals and unknown actors are clear errors with a non-zero exit.
func TestCLI_Actors(t *testing.T) {
	m := newMesh(t, 1)
	const admin = "cli-admin"
	gw := m.addGateway("RIVETGO_ADMIN_TOKEN=" + admin)
	a, _ := gwActor(t, m, "counter", "cli-a", "increment", 3)
	b, _ := gwActor(t, m, "counter", "cli-b", "increment", 7)
	env := []string{"RIVETGO_URL=" + gw, "RIVETGO_ADMIN_TOKEN=" + admin}

	out, errs, ok := rivetgoCLI(t, m.bin, env, "actors", "ls", "counter")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !ok || len(lines) != 2 || !strings.Contains(out, a+"\t[\"cli-a\"]") || !strings.Contains(out, b+"\t[\"cli-b\"]") {
		t.Fatalf("actors ls: %v %q %s", ok, out, errs)
	}

	// Pages of one follow the cursor to the same list.
	paged, errs, ok := rivetgoCLI(t, m.bin, env, "actors", "--page", "1", "ls", "counter")
	if !ok || paged != out {
		t.Fatalf("actors ls --page 1: %v %q, want %q %s", ok, paged, out, errs)
	}

	out, errs, ok = rivetgoCLI(t, m.bin, env, "actors", "get", "counter", "cli-b")
	var got map[string]any
	if !ok || json.Unmarshal([]byte(out), &got) != nil || got["actor_id"] != b || got["name"] != "counter" {
		t.Fatalf("actors get: %v %q %s", ok, out, errs)
	}

	out, errs, ok = rivetgoCLI(t, m.bin, env, "actors", "state", "counter", "cli-a")
	var st map[string]any
	if !ok || json.Unmarshal([]byte(out), &st) != nil || st["count"] != float64(3) {
		t.Fatalf("actors state: %v %q %s", ok, out, errs)
	}

	// The actor's token (printed by actors token) works for its state;
	// the flag wins over the environment.
	tok, errs, ok := rivetgoCLI(t, m.bin, env, "actors", "token", "counter", "cli-b")
	tok = strings.TrimSpace(tok)
	if !ok || len(tok) < 40 {
		t.Fatalf("actors token: %v %q %s", ok, tok, errs)
	}
	out, errs, ok = rivetgoCLI(t, m.bin, env, "actors", "--admin-token", tok, "state", "counter", "cli-b")
	if !ok || json.Unmarshal([]byte(out), &st) != nil || st["count"] != float64(7) {
		t.Fatalf("actors state with the actor token: %v %q %s", ok, out, errs)
	}
	_, errs, ok = rivetgoCLI(t, m.bin, env, "actors", "--admin-token", tok, "state", "counter", "cli-a")
	if ok || !strings.Contains(errs, "auth/forbidden") {
		t.Fatalf("another actor's state with b's token: %v %s", ok, errs)
	}
	_, errs, ok = rivetgoCLI(t, m.bin, []string{"RIVETGO_URL=" + gw}, "actors", "state", "counter", "cli-a")
	if ok || !strings.Contains(errs, "auth/forbidden (HTTP 401)") {
		t.Fatalf("state without a token: %v %s", ok, errs)
	}

	// Bad input and unknown actors.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"actors", "get", "counter", "nobody"}, "actor/not_found"},
		{[]string{"actors", "state", "counter", "nobody"}, "actor/not_found"},
		{[]string{"actors", "ls", ""}, "actor name is empty"},
		{[]string{"actors", "frob", "counter"}, "unknown actors command"},
		{[]string{"actors", "ls"}, "needs a command and an actor name"},
		{[]string{"actors", "--url", "ftp://x", "ls", "counter"}, "not an http(s) URL"},
		{[]string{"actors", "--page", "0", "ls", "counter"}, "--page must be 1 to 1000"},
	} {
		_, errs, ok := rivetgoCLI(t, m.bin, env, c.args...)
		if ok || !strings.Contains(errs, c.want) {
			t.Fatalf("%v: %v %s", c.args, ok, errs)
		}
	}
}

// TestHostFlagsOutOfRange: the host refuses trace settings out of range
// before it starts (they were read as 1).
func TestHostFlagsOutOfRange(t *testing.T) {
	bin := binDir(t)
	for _, c := range []struct{ flag, want string }{
		{"--trace.sample=0", "--trace.sample 0: must be at least 1"},
		{"--trace.host-spans=0", "--trace.host-spans 0: must be at least 1"},
		{"--trace.actor-spans=-1", "--trace.actor-spans -1: must be at least 0"},
	} {
		cmd := exec.Command(filepath.Join(bin, "actorhost"), c.flag, "--nats.url=nats://127.0.0.1:1")
		out, err := cmd.CombinedOutput()
		if _, ok := err.(*exec.ExitError); !ok || !strings.Contains(string(out), c.want) {
			t.Fatalf("%s: %v %s", c.flag, err, out)
		}
	}
}
