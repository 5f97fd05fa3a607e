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
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/client"
)

// TestCompose_RunsAsProcesses checks deploy/compose.yaml against the code
// without a Docker engine: compose-go parses it; every service's command
// is one of our binaries and every RIVETGO_* variable it sets is one that
// binary's --help lists; every service has a healthcheck and a restart
// policy; then the services run as processes with the same environment and
// replica counts (ports and the NATS address moved to free local ones)
// against a nats-server started with deploy/nats.conf, the mesh serves an
// action, every replica answers its micro $SRV.PING, every service's
// healthcheck command passes against its process, and every stream has the
// file's replica count.
func TestCompose_RunsAsProcesses(t *testing.T) {
	bin := binDir(t)
	proj := loadCompose(t, "compose.yaml")
	if _, ok := proj.Services["nats"]; !ok {
		t.Fatal("compose.yaml has no nats service")
	}
	conf, err := os.ReadFile(filepath.Join(deployDir(), "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	port, mon := freePort(t), freePort(t)
	c := regexp.MustCompile(`(?m)^listen:.*$`).ReplaceAllString(string(conf), fmt.Sprintf("listen: 127.0.0.1:%d", port))
	c = regexp.MustCompile(`(?m)^http:.*$`).ReplaceAllString(c, fmt.Sprintf("http: 127.0.0.1:%d", mon))
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
	runCompose(t, bin, proj, natsURL, map[string]string{"nats": fmt.Sprintf("127.0.0.1:%d", mon)})
}

// TestCompose_Cluster is TestCompose_RunsAsProcesses for
// deploy/compose.cluster.yaml: three NATS services, each naming itself
// (NATS_SERVER_NAME) and mounting deploy/nats-cluster.conf, run here as a
// 3-node cluster from that file; every service lists every node in
// RIVETGO_NATS_URL; every bucket and stream ends up at R3.
func TestCompose_Cluster(t *testing.T) {
	bin := binDir(t)
	proj := loadCompose(t, "compose.cluster.yaml")
	var nodes []string
	for name, s := range proj.Services {
		if strings.HasPrefix(s.Image, "nats:") {
			nodes = append(nodes, name)
		}
	}
	sort.Strings(nodes)
	if want := []string{"nats-1", "nats-2", "nats-3"}; !slices.Equal(nodes, want) {
		t.Fatalf("compose.cluster.yaml runs NATS services %v; want %v", nodes, want)
	}
	mons := map[string]string{}
	c := startCluster(t, bin)
	for i, name := range nodes {
		s := proj.Services[name]
		if v := s.Environment["NATS_SERVER_NAME"]; v == nil || *v != name {
			t.Errorf("service %s: NATS_SERVER_NAME is not %q", name, name)
		}
		mounted := false
		for _, vol := range s.Volumes {
			if filepath.Base(vol.Source) == "nats-cluster.conf" {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("service %s does not mount nats-cluster.conf", name)
		}
		mons[name] = strings.TrimPrefix(c.mons[i], "http://")
	}
	for name, s := range proj.Services {
		if strings.HasPrefix(s.Image, "nats:") {
			continue
		}
		u := s.Environment["RIVETGO_NATS_URL"]
		for _, n := range nodes {
			if u == nil || !strings.Contains(*u, "nats://"+n+":4222") {
				t.Errorf("service %s: RIVETGO_NATS_URL does not list %s", name, n)
			}
		}
		if r := s.Environment["RIVETGO_KV_REPLICAS"]; r == nil || *r != "3" {
			t.Errorf("service %s: RIVETGO_KV_REPLICAS is not 3", name)
		}
	}
	runCompose(t, bin, proj, c.url(), mons)
}

// deployDir is the repository's deploy folder.
func deployDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(filepath.Dir(file)), "deploy")
}

func loadCompose(t *testing.T, file string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(deployDir(), file)}, cli.WithWorkingDirectory(deployDir()), cli.WithName("rivetgo"))
	if err != nil {
		t.Fatal(err)
	}
	proj, err := cli.ProjectFromOptions(context.Background(), opts)
	if err != nil {
		t.Fatalf("%s does not load: %v", file, err)
	}
	for _, want := range []string{"gateway", "actorhost", "scheduler", "inspector"} {
		if _, ok := proj.Services[want]; !ok {
			t.Errorf("%s has no %s service", file, want)
		}
	}
	for name, s := range proj.Services {
		if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Test[0] != "CMD" {
			t.Errorf("%s: service %s has no healthcheck of the form [CMD, ...]", file, name)
		}
		if s.Restart == "" || s.Restart == "no" {
			t.Errorf("%s: service %s has no restart policy", file, name)
		}
	}
	return proj
}

// runCompose runs proj's rivetgo services as processes against natsURL and
// checks the mesh; mons maps each NATS service to its monitoring address.
func runCompose(t *testing.T, bin string, proj *types.Project, natsURL string, mons map[string]string) {
	ctx := context.Background()
	var gatewayURL string
	replicas := map[string]int{}
	type replica struct {
		svc   string
		ports map[string]string // container port → local address
	}
	var started []replica
	wantReplicas := ""
	for name, s := range proj.Services {
		if _, isNATS := mons[name]; isNATS {
			continue
		}
		exe := serviceBinary(t, bin, s)
		help := helpText(t, exe)
		for k := range s.Environment {
			if strings.HasPrefix(k, "RIVETGO_") && !strings.Contains(help, k) {
				t.Errorf("service %s sets %s, which %s --help does not list", name, k, filepath.Base(exe))
			}
		}
		if v := s.Environment["RIVETGO_KV_REPLICAS"]; v != nil {
			wantReplicas = *v
		}
		n := s.GetScale()
		replicas[filepath.Base(exe)] = n
		for i := range n {
			// Each replica is its own container: its listen addresses
			// get ports of their own here.
			env := []string{"RIVETGO_LOG_LEVEL=debug"}
			r := replica{svc: name, ports: map[string]string{}}
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
					local := fmt.Sprintf("127.0.0.1:%d", freePort(t))
					r.ports[strings.TrimPrefix(val, ":")] = local
					val = local
					if k == "RIVETGO_HTTP_ADDR" && name == "gateway" && gatewayURL == "" {
						gatewayURL = "http://" + local
					}
				}
				env = append(env, k+"="+val)
			}
			startProc(t, fmt.Sprintf("%s-%d", name, i), exe, env, []string(s.Command[1:])...)
			started = append(started, r)
		}
	}
	if gatewayURL == "" {
		t.Fatal("the gateway service sets no RIVETGO_HTTP_ADDR")
	}
	// The mesh serves an action, and every replica answers its service's
	// micro ping.
	h := client.New(gatewayURL).GetOrCreate("counter", "compose")
	waitFor(t, 90*time.Second, func() error {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
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
		waitFor(t, 30*time.Second, func() error {
			if got := microReplies(t, nc, "rivetgo-"+svc); got != want {
				return fmt.Errorf("%d %s replicas answer $SRV.PING, compose runs %d", got, svc, want)
			}
			return nil
		})
	}
	// Every service's healthcheck passes against its process: ours run
	// bin/healthcheck with the container's port moved to the replica's;
	// NATS's (wget of the monitoring port) is a GET of the same path.
	for _, r := range started {
		test := proj.Services[r.svc].HealthCheck.Test[1:]
		if !strings.HasPrefix(test[0], "/usr/local/bin/") {
			t.Fatalf("service %s: healthcheck %v runs no binary of the image", r.svc, test)
		}
		exe := filepath.Join(bin, strings.TrimPrefix(test[0], "/usr/local/bin/"))
		args := slices.Clone(test[1:])
		for i, a := range args {
			for cport, local := range r.ports {
				args[i] = strings.ReplaceAll(a, "127.0.0.1:"+cport+"/", local+"/")
				a = args[i]
			}
		}
		waitFor(t, 30*time.Second, func() error {
			out, err := exec.Command(exe, args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("healthcheck of %s (%s %v): %v: %s", r.svc, filepath.Base(exe), args, err, out)
			}
			return nil
		})
	}
	for name, mon := range mons {
		test := proj.Services[name].HealthCheck.Test[1:]
		u := test[len(test)-1]
		if test[0] != "wget" || !strings.HasPrefix(u, "http://127.0.0.1:8222/") {
			t.Fatalf("service %s: healthcheck %v is not a wget of the monitoring port", name, test)
		}
		waitFor(t, 60*time.Second, func() error { return httpOK(strings.Replace(u, "127.0.0.1:8222", mon, 1)) })
	}
	// Every bucket and stream has the replica count the file sets.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	lister := js.ListStreams(ctx)
	n := 0
	for si := range lister.Info() {
		n++
		if got := fmt.Sprint(si.Config.Replicas); got != wantReplicas {
			t.Errorf("stream %s has %s replicas; the compose file sets RIVETGO_KV_REPLICAS=%s", si.Config.Name, got, wantReplicas)
		}
	}
	if err := lister.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 7 {
		t.Errorf("%d streams; want the 6 buckets' and the queue stream", n)
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

// TestDockerfile_BuildsLikeTheImage runs the Dockerfile's build step (its
// RUN line that builds the binaries, with /out moved to a temporary folder
// and VERSION set) from the repository root, and checks that it makes
// every binary the compose files run, each stamped with VERSION, and the
// healthcheck. The base images are not pulled (no Docker engine here).
func TestDockerfile_BuildsLikeTheImage(t *testing.T) {
	binDir(t) // skips with -short like the other integration tests
	b, err := os.ReadFile(filepath.Join(deployDir(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// The RUN instruction that writes /out, with its continuation lines.
	var run string
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "RUN ") {
			continue
		}
		cmd := strings.TrimPrefix(lines[i], "RUN ")
		for strings.HasSuffix(strings.TrimSpace(cmd), "\\") && i+1 < len(lines) {
			i++
			cmd = strings.TrimSuffix(strings.TrimSpace(cmd), "\\") + " " + strings.TrimSpace(lines[i])
		}
		if strings.Contains(cmd, "/out/") {
			run = cmd
		}
	}
	if run == "" {
		t.Fatal("the Dockerfile has no RUN step building into /out")
	}
	out := t.TempDir()
	const version = "v9.9.9-dockerfile-test"
	sh := exec.Command("sh", "-c", strings.ReplaceAll(run, "/out/", out+"/"))
	sh.Dir = filepath.Dir(deployDir())
	sh.Env = append(os.Environ(), "VERSION="+version)
	if o, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's build step fails: %v\n%s", err, o)
	}
	for _, name := range []string{"gateway", "actorhost", "scheduler", "inspector"} {
		o, err := exec.Command(filepath.Join(out, name), "--version").CombinedOutput()
		if err != nil || !strings.Contains(string(o), version) {
			t.Errorf("%s --version: %q, %v; want the VERSION build argument %s", name, o, err, version)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "healthcheck")); err != nil {
		t.Errorf("the image has no healthcheck binary: %v", err)
	}
}
