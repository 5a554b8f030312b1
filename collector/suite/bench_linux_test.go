package suite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/collector"
)

// BenchmarkAgentCollectors measures what running every collector costs an endpoint: CPU seconds
// per minute of watching and resident memory, on this machine with about 300 processes running
// and a 50,000-file tree under watch, plus a light steady churn (a short process and a file
// write every 200 ms). Run it with
//
//	go test ./collector/suite -run '^$' -bench AgentCollectors -benchtime 1x
//
// It runs twice: without and with the identity aids (image loads, DNS answer capture, the
// listener probe).
//
// VIGIL_BENCH_SECONDS sets the watch time (default 60). Setup (spawning, writing the tree) is
// not measured; only the watch window is.
func BenchmarkAgentCollectors(b *testing.B) {
	secs := 60
	if s := os.Getenv("VIGIL_BENCH_SECONDS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			secs = n
		}
	}
	tree := b.TempDir()
	writeTree(b, tree, 500, 100) // 50,000 files in 500 folders
	procs := spawnSleepers(b, 300-countProcs())

	// aids=off leaves out what issue 11 added (image loads, DNS answer capture, the listener
	// probe); aids=on is the default the agent runs.
	var noAids []string
	for _, n := range Names {
		if n != "imageload" {
			noAids = append(noAids, n)
		}
	}
	variants := []struct {
		name string
		opts Options
	}{
		{"aids=off", Options{FileRoots: []string{tree}, Only: noAids, NoDNSNames: true, NoListenerProbe: true}},
		{"aids=on", Options{FileRoots: []string{tree}}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s, err := New(v.opts)
				if err != nil {
					b.Fatal(err)
				}
				var events atomic.Int64
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second)
				stopChurn := churn(ctx, tree)
				before := rusage(b)
				rssBase := readStatusKB("VmRSS")
				start := time.Now()
				_ = s.Run(ctx, func(*collector.Event) { events.Add(1) })
				wall := time.Since(start)
				after := rusage(b)
				cancel()
				stopChurn()
				cpu := (after - before).Seconds()
				b.ReportMetric(cpu/wall.Minutes(), "cpu-s/min")
				b.ReportMetric(float64(readStatusKB("VmRSS"))/1024, "rss-MB")
				b.ReportMetric(float64(readStatusKB("VmHWM"))/1024, "peak-rss-MB")
				b.ReportMetric(float64(readStatusKB("VmRSS")-rssBase)/1024, "rss-growth-MB")
				b.ReportMetric(float64(countProcs()), "processes")
				b.ReportMetric(float64(events.Load()), "events")
			}
		})
	}
	b.StopTimer()
	for _, p := range procs {
		_ = p.Process.Kill()
		_, _ = p.Process.Wait()
	}
}

func writeTree(tb testing.TB, root string, dirs, perDir int) {
	tb.Helper()
	for d := 0; d < dirs; d++ {
		dir := filepath.Join(root, fmt.Sprintf("project%03d", d/50), fmt.Sprintf("pkg%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		for f := 0; f < perDir; f++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file%03d.go", f)), []byte("package x\n"), 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

func countProcs() int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			n++
		}
	}
	return n
}

func spawnSleepers(tb testing.TB, n int) []*exec.Cmd {
	tb.Helper()
	var out []*exec.Cmd
	for i := 0; i < n; i++ {
		c := exec.Command("sleep", "3600")
		if err := c.Start(); err != nil {
			tb.Fatal(err)
		}
		out = append(out, c)
	}
	tb.Cleanup(func() {
		for _, c := range out {
			_ = c.Process.Kill()
			_, _ = c.Process.Wait()
		}
	})
	return out
}

// churn starts, in a separate shell so its cost is not counted as ours, a short-lived process
// and a file write every 200 ms until ctx ends.
func churn(ctx context.Context, dir string) func() {
	c := exec.CommandContext(ctx, "sh", "-c", `i=0; while :; do /bin/true; echo x > "$1/churn$((i % 20)).txt"; i=$((i+1)); sleep 0.2; done`, "churn", dir)
	if err := c.Start(); err != nil {
		return func() {}
	}
	return func() { _ = c.Wait() }
}

func rusage(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readStatusKB reads a kB figure such as VmRSS from /proc/self/status.
func readStatusKB(key string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
