package svc

import (
	"fmt"
	"io"
	"runtime/debug"
)

// buildVersion is set by the Makefile (-ldflags -X ...svc.buildVersion=).
var buildVersion string

// Version is the build's version: what the Makefile stamped (git describe),
// else the module version or the VCS revision (and "-dirty") that Go
// recorded.
func Version() string {
	if buildVersion != "" {
		return buildVersion
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return rev + dirty
	}
	if v == "" {
		return "(devel)"
	}
	return v
}

// PrintVersion writes "<name> <version> <go version>".
func PrintVersion(w io.Writer, name string) {
	bi, _ := debug.ReadBuildInfo()
	gov := ""
	if bi != nil {
		gov = bi.GoVersion
	}
	fmt.Fprintf(w, "%s %s %s\n", name, Version(), gov)
}
