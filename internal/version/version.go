// Package version holds the build's version information, set at link time with
// -ldflags "-X github.com/vigilhq/vigil/internal/version.Version=...".
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Set at link time by release builds.
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// String is the one-line version report of `vigil version`.
func String() string { return report() }

// report builds String once: everything in it is fixed at link time, and reading the build
// information parses the record of every module in the binary, which the agent would otherwise
// redo for each status write and check-in (several times a minute, for the process's life).
var report = sync.OnceValue(func() string {
	commit, date := Commit, Date
	if commit == "" || date == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				switch {
				case s.Key == "vcs.revision" && commit == "":
					commit = s.Value
				case s.Key == "vcs.time" && date == "":
					date = s.Value
				}
			}
		}
	}
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if commit == "" {
		commit = "unknown"
	}
	if date == "" {
		date = "unknown"
	}
	edition := ""
	if Edition != "full" {
		edition = ", " + Edition
	}
	return fmt.Sprintf("vigil %s (commit %s, built %s, %s %s/%s%s)", Version, commit, date, runtime.Version(), runtime.GOOS, runtime.GOARCH, edition)
})
