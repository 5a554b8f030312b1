package main

// Benchmarks of the agent as a separate process against a real `vigil server` on loopback
// (docs/performance.md has the figures and the machine load beside them):
//
//	go test ./cmd/vigil -run '^$' -bench AgentDetectionLatency -benchtime 1x
//	go test ./cmd/vigil -run '^$' -bench AgentIdle -benchtime 1x -timeout 20m   (5 minutes; VIGIL_BENCH_IDLE=1m for less)
//	go test ./cmd/vigil -run '^$' -bench AgentBurst -benchtime 1x

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v3/process"
)

// usage is a process's CPU time so far and its peak resident memory.
func usage(b *testing.B, pid int) (cpu time.Duration, peakRSS int64) {
	p, err := process.NewProcess(int32(pid))
	if err != nil {
		b.Fatal(err)
	}
	t, err := p.Times()
	if err != nil {
		b.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			peakRSS = kb << 10
		}
	}
	return time.Duration((t.User + t.System) * float64(time.Second)), peakRSS
}

func rssNow(b *testing.B, pid int) int64 {
	p, err := process.NewProcess(int32(pid))
	if err != nil {
		b.Fatal(err)
	}
	m, err := p.MemoryInfo()
	if err != nil {
		b.Fatal(err)
	}
	return int64(m.RSS)
}

// BenchmarkAgentDetectionLatency: process start -> its finding listed by GET /api/v1/findings,
// 50 runs, with the agent's process collector on the kernel connector.
func BenchmarkAgentDetectionLatency(b *testing.B) {
	srv := newE2EServer(b, "")
	a := newE2EAgent(b, srv)
	p := a.run()
	waitReady(b, p)
	detect(b, srv, a, 0, 0) // enrolled and warm
	for range b.N {
		const runs = 50
		var lat []time.Duration
		for i := 1; i <= runs; i++ {
			lat = append(lat, detect(b, srv, a, i, i))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p50, p95, worst := lat[runs/2], lat[runs*95/100-1], lat[runs-1]
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
		b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
		b.Logf("%d runs: p50 %v, p95 %v, max %v; load %s", runs, p50.Round(time.Millisecond), p95.Round(time.Millisecond), worst.Round(time.Millisecond), loadAvg())
	}
	p.stop(b)
}

// BenchmarkAgentIdle: the agent with every collector and the whole built-in pack, left alone
// (its file watch on an empty folder) for VIGIL_BENCH_IDLE (default 5m): CPU in percent of one
// core and RSS.
func BenchmarkAgentIdle(b *testing.B) {
	d := 5 * time.Minute
	if s := os.Getenv("VIGIL_BENCH_IDLE"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			b.Fatal(err)
		}
	}
	srv := newE2EServer(b, "")
	a := newE2EAgent(b, srv)
	quiet := b.TempDir()
	a.only, a.extra = "", []string{"--files-root", quiet}
	p := a.run()
	waitReady(b, p)
	time.Sleep(30 * time.Second) // past the start-up scan
	for range b.N {
		load0 := loadAvg()
		cpu0, _ := usage(b, p.cmd.Process.Pid)
		start := time.Now()
		var maxRSS int64
		for time.Since(start) < d {
			time.Sleep(5 * time.Second)
			maxRSS = max(maxRSS, rssNow(b, p.cmd.Process.Pid))
		}
		cpu1, hwm := usage(b, p.cmd.Process.Pid)
		pct := 100 * float64(cpu1-cpu0) / float64(time.Since(start))
		b.ReportMetric(pct, "cpu-%")
		b.ReportMetric(float64(maxRSS)/(1<<20), "rss-MiB")
		b.ReportMetric(float64(hwm)/(1<<20), "peak-rss-MiB")
		b.Logf("idle %v: %.3f%% of a core, RSS up to %.1f MiB (peak since start %.1f MiB); load %s -> %s",
			d, pct, float64(maxRSS)/(1<<20), float64(hwm)/(1<<20), load0, loadAvg())
	}
	p.stop(b)
}

// BenchmarkAgentBurst: 1,000 process starts and 10,000 file writes in the watched folder; the
// agent's CPU time over the burst and until it settled, and its peak RSS.
func BenchmarkAgentBurst(b *testing.B) {
	srv := newE2EServer(b, "")
	a := newE2EAgent(b, srv)
	watched := b.TempDir()
	a.only, a.extra = "", []string{"--files-root", watched}
	p := a.run()
	waitReady(b, p)
	time.Sleep(15 * time.Second)
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Skip("no true command")
	}
	for n := range b.N {
		load0 := loadAvg()
		cpu0, _ := usage(b, p.cmd.Process.Pid)
		start := time.Now()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 1000 {
				_ = exec.Command(truePath).Run()
			}
		}()
		go func() {
			defer wg.Done()
			dir := filepath.Join(watched, fmt.Sprint(n))
			for i := range 10000 {
				sub := filepath.Join(dir, fmt.Sprint(i/500))
				if i%500 == 0 {
					_ = os.MkdirAll(sub, 0o755)
				}
				_ = os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%05d.txt", i)), []byte("burst\n"), 0o644)
			}
		}()
		wg.Wait()
		burst := time.Since(start)
		time.Sleep(15 * time.Second) // file events settle (2 s) and aggregate (10 s windows)
		cpu1, hwm := usage(b, p.cmd.Process.Pid)
		cpu := cpu1 - cpu0
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		b.ReportMetric(float64(hwm)/(1<<20), "peak-rss-MiB")
		b.Logf("burst of 1,000 process starts + 10,000 file writes took %v; agent CPU %.2f s (burst and 15 s after), peak RSS %.1f MiB; load %s -> %s",
			burst.Round(time.Millisecond), cpu.Seconds(), float64(hwm)/(1<<20), load0, loadAvg())
	}
	p.stop(b)
}
