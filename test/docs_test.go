package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDocs_HostBinaryCompiles builds the host binary of docs/GUIDE.md §4
// as it is written (with a stand-in for the guide's Doc actor), so the
// guide cannot drift from the packages it uses.
func TestDocs_HostBinaryCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	guide, err := os.ReadFile(filepath.Join(root, "docs", "GUIDE.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(guide), "## 4. Build your own host binary")
	if !ok {
		t.Fatal("GUIDE.md has no section 4")
	}
	_, code, ok := strings.Cut(sec, "```go\n")
	if !ok {
		t.Fatal("section 4 has no Go block")
	}
	code, _, _ = strings.Cut(code, "```")
	code += "\nvar Doc = actor.New(\"doc\", actor.Config[struct{}, struct{}]{})\n"
	dir, err := os.MkdirTemp(filepath.Join(root, "test"), "docsnippet-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "vet", ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the guide's host binary does not build:\n%s\n--- code ---\n%s", out, code)
	}
}
