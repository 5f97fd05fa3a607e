package test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestHouseRules keeps the layering the docs describe: every package has a
// doc comment; services import only pkg/ (and their own subpackages), never
// each other; pkg/ imports no service; the actor runtime (pkg/actor,
// pkg/workflow) imports neither NATS nor the host.
func TestHouseRules(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/rivetgo/rivetgo/"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for {
		var p struct {
			ImportPath string
			Doc        string
			Name       string
			Imports    []string
			GoFiles    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if len(p.GoFiles) == 0 {
			continue // test-only package
		}
		n++
		rel := strings.TrimPrefix(p.ImportPath, mod)
		if p.Doc == "" {
			t.Errorf("%s has no package doc comment", rel)
		}
		for _, imp := range p.Imports {
			irel, ours := strings.CutPrefix(imp, mod)
			switch {
			case strings.HasPrefix(rel, "services/") && ours && strings.HasPrefix(irel, "services/"):
				svc := strings.SplitN(rel, "/", 3)[1]
				if !strings.HasPrefix(irel, "services/"+svc) {
					t.Errorf("%s imports another service, %s: services talk over NATS only", rel, irel)
				}
			case strings.HasPrefix(rel, "pkg/") && ours && strings.HasPrefix(irel, "services/"):
				t.Errorf("%s imports the service %s", rel, irel)
			}
			if rel == "pkg/actor" || rel == "pkg/workflow" {
				if strings.HasPrefix(imp, "github.com/nats-io/") || irel == "pkg/dispatch" || irel == "pkg/membership" || irel == "pkg/buckets" || irel == "pkg/directory" {
					t.Errorf("%s imports %s: the actor runtime knows no NATS and no host", rel, imp)
				}
			}
		}
	}
	if n < 15 {
		t.Fatalf("go list found only %d packages", n)
	}
}
