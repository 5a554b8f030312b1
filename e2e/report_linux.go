package e2e

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// ReportEnv names a file the suite appends its measured figures to (.ci/run prints it).
const ReportEnv = "VIGIL_SCENARIO_REPORT"

var report struct {
	mu   sync.Mutex
	rows []string
}

// Record logs a measured figure of a scenario and keeps it for the suite's summary.
func Record(t testing.TB, scenario, what string, d time.Duration, note string) {
	t.Helper()
	row := fmt.Sprintf("%-16s %-62s %7d ms  %s", scenario, what, d.Milliseconds(), note)
	t.Logf("measured: %s (load %s)", strings.TrimSpace(row), LoadAvg())
	report.mu.Lock()
	report.rows = append(report.rows, row)
	report.mu.Unlock()
}

// Summary returns every recorded figure, sorted, with the load at the end of the run; it also
// appends them to the file named by VIGIL_SCENARIO_REPORT when set.
func Summary() string {
	report.mu.Lock()
	rows := append([]string(nil), report.rows...)
	report.mu.Unlock()
	if len(rows) == 0 {
		return ""
	}
	sort.Strings(rows)
	s := fmt.Sprintf("scenario figures (load at the end %s, %s):\n%s\n", LoadAvg(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.Join(rows, "\n"))
	if p := os.Getenv(ReportEnv); p != "" {
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			_, _ = f.WriteString(s)
			f.Close()
		}
	}
	return s
}
