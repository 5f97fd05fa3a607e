package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats.go"

	"github.com/rivetgo/rivetgo/pkg/client"
)

// TestCompose_RunsAsProcesses checks deploy/compose.yaml against the code
// without a Docker engine: compose-go parses it; every service's command
// is one of our binaries and every RIVETGO_* variable it sets is one that
// binary's --help lists; then the services run as processes with the same
// environment and replica counts (ports and the NATS address moved to free
// local ones) against a nats-server started with deploy/nats.conf, and the
// mesh serves an action, with every replica registered.
func TestCompose_RunsAsProcesses(t *testing.T) {
	bin := binDir(t)
	_, file, _, _ := runtime.Caller(0)
	deploy := filepath.Join(filepath.Dir(filepath.Dir(file)), "deploy")
	ctx := context.Background()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(deploy, "compose.yaml")}, cli.WithWorkingDirectory(deploy), cli.WithName("rivetgo"))
	if err != nil {
		t.Fatal(err)
	}
	proj, err := cli.ProjectFromOptions(ctx, opts)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	for _, want := range []string{"nats", "gateway", "actorhost", "scheduler"} {
		if _, ok := proj.Services[want]; !ok {
			t.Errorf("compose.yaml has no %s service", want)
		}
	}

	// nats-server with the compose file's config, on free local ports.
	conf, err := os.ReadFile(filepath.Join(deploy, "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	c := regexp.MustCompile(`(?m)^listen:.*$`).ReplaceAllString(string(conf), fmt.Sprintf("listen: 127.0.0.1:%d", port))
	c = regexp.MustCompile(`(?m)^http:.*$`).ReplaceAllString(c, fmt.Sprintf("http: 127.0.0.1:%d", freePort(t)))
	c = regexp.MustCompile(`(?m)store_dir:.*$`).ReplaceAllString(c, fmt.Sprintf("store_dir: %q", filepath.Join(t.TempDir(), "js")))
	confPath := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(confPath, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	startProc(t, "nats-server", filepath.Join(bin, "nats-server"), nil, "-c", confPath)
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", port)
	waitFor(t, 10*time.Second, func() error {
		nc, err := nats.Connect(natsURL)
		if err == nil {
			nc.Close()
		}
		return err
	})

	var gatewayURL string
	replicas := map[string]int{}
	for name, s := range proj.Services {
		if name == "nats" {
			continue
		}
		exe := serviceBinary(t, bin, s)
		help := helpText(t, exe)
		for k := range s.Environment {
			if strings.HasPrefix(k, "RIVETGO_") && !strings.Contains(help, k) {
				t.Errorf("service %s sets %s, which %s --help does not list", name, k, filepath.Base(exe))
			}
		}
		n := s.GetScale()
		replicas[filepath.Base(exe)] = n
		for i := range n {
			// Each replica is its own container: its listen addresses
			// get ports of their own here.
			env := []string{"RIVETGO_LOG_LEVEL=debug"}
			for k, v := range s.Environment {
				if !strings.HasPrefix(k, "RIVETGO_") {
					continue
				}
				val := ""
				if v != nil {
					val = *v
				}
				switch {
				case k == "RIVETGO_NATS_URL":
					val = natsURL
				case strings.HasSuffix(k, "_ADDR"):
					p := freePort(t)
					val = fmt.Sprintf("127.0.0.1:%d", p)
					if k == "RIVETGO_HTTP_ADDR" && name == "gateway" && gatewayURL == "" {
						gatewayURL = fmt.Sprintf("http://127.0.0.1:%d", p)
					}
				}
				env = append(env, k+"="+val)
			}
			startProc(t, fmt.Sprintf("%s-%d", name, i), exe, env, []string(s.Command[1:])...)
		}
	}
	if gatewayURL == "" {
		t.Fatal("the gateway service sets no RIVETGO_HTTP_ADDR")
	}
	// The mesh serves an action, and every replica answers its service's
	// micro ping.
	h := client.New(gatewayURL).GetOrCreate("counter", "compose")
	waitFor(t, 30*time.Second, func() error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := client.Call[int64](cctx, h, "increment", 1)
		return err
	})
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for svc, want := range replicas {
		waitFor(t, 20*time.Second, func() error {
			if got := microReplies(t, nc, "rivetgo-"+svc); got != want {
				return fmt.Errorf("%d %s replicas answer $SRV.PING, compose runs %d", got, svc, want)
			}
			return nil
		})
	}
}

// serviceBinary maps a service's command (/usr/local/bin/<name>, as the
// Dockerfile installs them) to the binary make build made.
func serviceBinary(t *testing.T, bin string, s types.ServiceConfig) string {
	t.Helper()
	if len(s.Command) == 0 || !strings.HasPrefix(s.Command[0], "/usr/local/bin/") {
		t.Fatalf("service %s: command %v is not one of the image's binaries", s.Name, s.Command)
	}
	exe := filepath.Join(bin, strings.TrimPrefix(s.Command[0], "/usr/local/bin/"))
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("service %s runs %s, which make build does not make: %v", s.Name, s.Command[0], err)
	}
	return exe
}

func helpText(t *testing.T, exe string) string {
	t.Helper()
	out, _ := exec.Command(exe, "--help").CombinedOutput() // exits 0 or 2 by flag package convention
	if !strings.Contains(string(out), "RIVETGO_") {
		t.Fatalf("%s --help lists no RIVETGO_ variables:\n%s", exe, out)
	}
	return string(out)
}

// microReplies counts the replicas of a micro service answering a ping.
func microReplies(t *testing.T, nc *nats.Conn, name string) int {
	t.Helper()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest("$SRV.PING."+name, inbox, nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		m, err := sub.NextMsg(300 * time.Millisecond)
		if err != nil {
			return n
		}
		var r struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(m.Data, &r) == nil && r.Name == name {
			n++
		}
	}
}
