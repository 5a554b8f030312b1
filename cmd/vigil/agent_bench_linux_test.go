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

// BenchmarkAgentIdle: two agents side by side, so that both see the same machine, each with every
// collector and the whole built-in pack, left alone (their file watches on empty folders) for
// VIGIL_BENCH_IDLE (default 5m) after a 60 s start-up, against a server with the default
// check-in interval: the binary the release packages carry ("release": static, stripped) and the
// agent-only build ("agentonly"). For each: CPU in percent of one core, RSS (the largest of 5 s
// samples, and at the end split into private memory and file-backed pages), with the machine's
// load and its rate of process (and thread) creations beside them: on a shared machine "idle" is
// the agent's own state, and it still watches every process the others start. A line fitted
// over the 5 s windows (the agent's CPU against the machine's creations per second) estimates
// its CPU on a machine where nothing starts (cpu-%-0forks).
func BenchmarkAgentIdle(b *testing.B) {
	d := 5 * time.Minute
	if s := os.Getenv("VIGIL_BENCH_IDLE"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			b.Fatal(err)
		}
	}
	srv := newE2EServerWith(b, "", "--checkin-interval", "1m")
	type idler struct {
		name string
		p    *proc
		cpu0 time.Duration
		rss  int64
		last time.Duration // CPU at the last sample
		x, y []float64     // per 5 s window: the machine's forks/s, the agent's CPU %
	}
	var agents []*idler
	for _, build := range []struct {
		name string
		bin  func(testing.TB) string
	}{{"release", releaseBinary}, {"agentonly", agentBinary}} {
		a := newE2EAgent(b, srv)
		a.bin = build.bin(b)
		a.only, a.extra = "", []string{"--files-root", b.TempDir(), "--machine-id", "bench-idle-" + build.name}
		agents = append(agents, &idler{name: build.name, p: a.run()})
	}
	for _, x := range agents {
		waitReady(b, x.p)
	}
	time.Sleep(60 * time.Second) // past the start-up scan and the start-up memory release (30 s)
	for range b.N {
		load0, forks0 := loadAvg(), forks(b)
		for _, x := range agents {
			x.cpu0, _ = usage(b, x.p.cmd.Process.Pid)
			x.rss = 0
		}
		for _, x := range agents {
			x.last, x.x, x.y = x.cpu0, nil, nil
		}
		start, lastAt, lastForks := time.Now(), time.Now(), forks0
		for time.Since(start) < d {
			time.Sleep(5 * time.Second)
			now, f := time.Now(), forks(b)
			span := now.Sub(lastAt)
			for _, x := range agents {
				x.rss = max(x.rss, rssNow(b, x.p.cmd.Process.Pid))
				cpu, _ := usage(b, x.p.cmd.Process.Pid)
				x.x = append(x.x, float64(f-lastForks)/span.Seconds())
				x.y = append(x.y, 100*float64(cpu-x.last)/float64(span))
				x.last = cpu
			}
			lastAt, lastForks = now, f
		}
		took := time.Since(start)
		rate := float64(forks(b)-forks0) / took.Seconds()
		load1 := loadAvg()
		b.ReportMetric(rate, "machine-forks/s")
		for _, x := range agents {
			pid := x.p.cmd.Process.Pid
			cpu1, hwm := usage(b, pid)
			pct := 100 * float64(cpu1-x.cpu0) / float64(took)
			anon, file := rssSplit(b, pid)
			quiet, perFork := fitLine(x.x, x.y)
			b.ReportMetric(pct, "cpu-%-"+x.name)
			b.ReportMetric(quiet, "cpu-%-0forks-"+x.name)
			b.ReportMetric(float64(x.rss)/(1<<20), "rss-MiB-"+x.name)
			b.Logf("%s: idle %v: %.3f%% of a core (fit over %d 5 s windows: %.3f%% with no process creations, +%.4f%% per creation/s), RSS up to %.1f MiB (at the end %.1f MiB private + %.1f MiB file-backed; peak since start %.1f MiB)",
				x.name, d, pct, len(x.x), quiet, perFork, float64(x.rss)/(1<<20), float64(anon)/(1<<20), float64(file)/(1<<20), float64(hwm)/(1<<20))
		}
		b.Logf("machine: %.1f process and thread creations/s; load %s -> %s", rate, load0, load1)
	}
	for _, x := range agents {
		x.p.stop(b)
	}
}

// fitLine is the least-squares line y = a + b x.
func fitLine(x, y []float64) (a, b float64) {
	n := float64(len(x))
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx, sy, sxx, sxy = sx+x[i], sy+y[i], sxx+x[i]*x[i], sxy+x[i]*y[i]
	}
	if d := n*sxx - sx*sx; n > 1 && d != 0 {
		b = (n*sxy - sx*sy) / d
	}
	if n > 0 {
		a = (sy - b*sx) / n
	}
	return a, b
}

// forks is the machine's count of processes and threads created since boot (/proc/stat).
func forks(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "processes "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no processes line in /proc/stat")
	return 0
}

// rssSplit is a process's resident memory now: private (anonymous) and file-backed.
func rssSplit(b *testing.B, pid int) (anon, file int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		b.Fatal(err)
	}
	var rss int64
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			rss = kb << 10
		case "Anonymous:":
			anon = kb << 10
		}
	}
	return anon, rss - anon
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
