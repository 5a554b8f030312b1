package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/vigilhq/vigil/internal/rdservers"
)

// RequireEnv is the variable that turns a missing prerequisite into a failure.
const RequireEnv = "VIGIL_REQUIRE_SCENARIOS"

// Required reports whether the scenarios must run (VIGIL_REQUIRE_SCENARIOS=1).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Unavailable skips the test because a prerequisite is missing, or fails it when the scenarios
// are required.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (%s=1: the scenarios must run)", msg, RequireEnv)
	}
	t.Skip(msg)
}

// Need returns the path of an installed tool, or calls Unavailable naming its Debian package.
func Need(t testing.TB, tool string) string {
	t.Helper()
	p, err := rdservers.Lookup(tool)
	if err != nil {
		Unavailable(t, "%v", err)
	}
	return p
}

// NeedRoot calls Unavailable unless the test runs as root, saying what for.
func NeedRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root: %s", what)
	}
}

// LoadAvg is the machine's load average (/proc/loadavg's first three figures), for the logs.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	var a, b1, c string
	if _, err := fmt.Sscan(string(b), &a, &b1, &c); err != nil {
		return "unknown"
	}
	return a + " " + b1 + " " + c
}
