package main

// Benchmarks of the agent as a separate process against a real `vigil server` on loopback
// (docs/performance.md has the figures and the machine load beside them):
//
//	go test ./cmd/vigil -run '^$' -bench AgentDetectionLatency -benchtime 1x
//	go test ./cmd/vigil -run '^$' -bench 'AgentIdle$' -benchtime 1x -timeout 20m       (5 minutes; VIGIL_BENCH_IDLE=1m for less)
//	go test ./cmd/vigil -run '^$' -bench AgentIdleQuiet -benchtime 1x -timeout 20m   (the same in namespaces of its own)
//	(VIGIL_BENCH_IDLE_ALSO=name=path,... runs more agent binaries beside them, e.g. an earlier commit's)
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

// idleBuilds are the agent binaries the idle benchmarks run side by side, so that both see the
// same machine, both built as installer/dist builds them (static, stripped): the agent-only build
// the vigil-agent packages carry to laptops ("agentonly") and the full one of the vigil-server
// packages ("full"), which runs the agent too.
var idleBuilds = []struct {
	name string
	bin  func(testing.TB) string
}{{"full", releaseBinary}, {"agentonly", agentBinary}}

// idleAgents are idleBuilds and the binaries VIGIL_BENCH_IDLE_ALSO names (name=path,...; builds
// of an earlier commit, to compare them on the same machine at the same time).
func idleAgents(b *testing.B) (names, bins []string) {
	for _, build := range idleBuilds {
		names, bins = append(names, build.name), append(bins, build.bin(b))
	}
	for _, nb := range strings.Split(os.Getenv("VIGIL_BENCH_IDLE_ALSO"), ",") {
		if nb = strings.TrimSpace(nb); nb == "" {
			continue
		}
		name, bin, ok := strings.Cut(nb, "=")
		if !ok {
			b.Fatalf("VIGIL_BENCH_IDLE_ALSO: %q is not name=path", nb)
		}
		if _, err := os.Stat(bin); err != nil {
			b.Fatalf("VIGIL_BENCH_IDLE_ALSO: %v", err)
		}
		names, bins = append(names, name), append(bins, bin)
	}
	return names, bins
}

// idleFor is VIGIL_BENCH_IDLE (default 5m).
func idleFor(b *testing.B) time.Duration {
	d := 5 * time.Minute
	if s := os.Getenv("VIGIL_BENCH_IDLE"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			b.Fatal(err)
		}
	}
	return d
}

// BenchmarkAgentIdle: the idle builds side by side on this machine, each with every collector and
// the whole built-in pack, left alone (their file watches on empty folders) for VIGIL_BENCH_IDLE
// (default 5m) after a 60 s start-up, against a server with the default check-in interval. On a
// shared machine "idle" is the agent's own state: it still watches every process the other
// sessions start, so the machine's rate of process (and thread) creations is reported beside the
// figures (BenchmarkAgentIdleQuiet gives the agents a machine of their own).
func BenchmarkAgentIdle(b *testing.B) {
	d := idleFor(b)
	srv := newE2EServerWith(b, "", "--checkin-interval", "1m")
	var agents []*idler
	var procs []*proc
	names, bins := idleAgents(b)
	for i, name := range names {
		a := newE2EAgent(b, srv)
		a.bin = bins[i]
		a.only, a.extra = "", []string{"--files-root", b.TempDir(), "--machine-id", "bench-idle-" + name}
		p := a.run()
		procs = append(procs, p)
		agents = append(agents, &idler{name: name, pid: p.cmd.Process.Pid})
	}
	for _, p := range procs {
		waitReady(b, p)
	}
	time.Sleep(60 * time.Second) // past the start-up scan and the start-up memory release (30 s)
	measureIdle(b, d, agents)
	for _, p := range procs {
		p.stop(b)
	}
}

// BenchmarkAgentIdleQuiet is BenchmarkAgentIdle on a machine of the agents' own: the server and
// both agents run in new PID, mount and network namespaces (unshare), where they see none of
// the other sessions' processes and sockets. Outside the initial PID namespace the kernel
// refuses the process-event connector, so there the process collector polls /proc every 2 s (as
// in a container); everything else is as on the machine. Needs root, unshare and ip.
func BenchmarkAgentIdleQuiet(b *testing.B) {
	d := idleFor(b)
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("no %s: the quiet idle benchmark runs in namespaces of its own", tool)
		}
	}
	if os.Geteuid() != 0 {
		b.Skip("the quiet idle benchmark needs root for its namespaces")
	}
	dir := b.TempDir()
	tag := fmt.Sprintf("quiet-%d", os.Getpid())
	script := `set -e
ip link set lo up
"$SERVER" server --data "$DIR/srv" --listen 127.0.0.1:8443 --admin-token "$ADMIN" --enroll-secret "$SECRET" --log-level warn > "$DIR/srv.log" 2>&1 &
until grep -q 'sha256:' "$DIR/srv.log"; do sleep 0.2; done
pin=$(grep -o 'sha256:[0-9a-f]*' "$DIR/srv.log" | head -n 1)
for build in $BUILDS; do
	mkdir -p "$DIR/files-$build"
	"$DIR/bin-$build" agent run --server https://127.0.0.1:8443 --ca-pin "$pin" --enroll-secret "$SECRET" --state "$DIR/state-$build" \
		--files-root "$DIR/files-$build" --machine-id "$TAG-$build" --log-level info > "$DIR/agent-$build.log" 2>&1 &
done
wait
`
	builds, bins := idleAgents(b)
	for i, name := range builds {
		if err := os.Symlink(bins[i], filepath.Join(dir, "bin-"+name)); err != nil {
			b.Fatal(err)
		}
	}
	ns := exec.Command("unshare", "--fork", "--kill-child", "--pid", "--mount-proc", "--net", "sh", "-c", script)
	ns.Env = append(os.Environ(), "SERVER="+vigilBinary(b), "DIR="+dir, "ADMIN="+e2eAdminToken, "SECRET="+e2eSecret,
		"BUILDS="+strings.Join(builds, " "), "TAG="+tag)
	out := &e2eBuffer{}
	ns.Stdout, ns.Stderr = out, out
	if err := ns.Start(); err != nil {
		b.Fatal(err)
	}
	ended := make(chan struct{})
	go func() { _ = ns.Wait(); close(ended) }()
	b.Cleanup(func() { _ = ns.Process.Kill(); <-ended })
	var agents []*idler
	for _, build := range builds {
		x := &idler{name: build}
		waitUntil(b, 120*time.Second, "the agent "+build+" enrolled in its namespace", func() bool {
			select {
			case <-ended:
				b.Fatalf("the namespace ended: %s", out.String())
			default:
			}
			log, _ := os.ReadFile(filepath.Join(dir, "agent-"+build+".log"))
			if !strings.Contains(string(log), "enrolled") {
				return false
			}
			x.pid = pidByArg(tag + "-" + build)
			return x.pid > 0
		})
		agents = append(agents, x)
	}
	time.Sleep(60 * time.Second) // past the start-up scan and the start-up memory release (30 s)
	measureIdle(b, d, agents)
}

// pidByArg finds the process whose command line has arg as one of its arguments.
func pidByArg(arg string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		for _, a := range strings.Split(string(cmdline), "\x00") {
			if a == arg {
				return pid
			}
		}
	}
	return 0
}

// idler is an agent process under the idle benchmarks' measure.
type idler struct {
	name string
	pid  int
	cpu0 time.Duration
	rss  int64
}

// measureIdle samples the agents every 5 s for d and reports, for each, its CPU in percent of one
// core and its RSS (the largest sample, and at the end split into private memory and file-backed
// pages), with the machine's load and rate of process (and thread) creations.
func measureIdle(b *testing.B, d time.Duration, agents []*idler) {
	for range b.N {
		load0, forks0 := loadAvg(), forks(b)
		for _, x := range agents {
			x.cpu0, _ = usage(b, x.pid)
			x.rss = 0
		}
		start := time.Now()
		for time.Since(start) < d {
			time.Sleep(5 * time.Second)
			for _, x := range agents {
				x.rss = max(x.rss, rssNow(b, x.pid))
			}
		}
		took := time.Since(start)
		rate := float64(forks(b)-forks0) / took.Seconds()
		load1 := loadAvg()
		b.ReportMetric(rate, "machine-forks/s")
		for _, x := range agents {
			cpu1, hwm := usage(b, x.pid)
			pct := 100 * float64(cpu1-x.cpu0) / float64(took)
			anon, file := rssSplit(b, x.pid)
			b.ReportMetric(pct, "cpu-%-"+x.name)
			b.ReportMetric(float64(x.rss)/(1<<20), "rss-MiB-"+x.name)
			b.Logf("%s: idle %v: %.3f%% of a core, RSS up to %.1f MiB (at the end %.1f MiB private + %.1f MiB file-backed; peak since start %.1f MiB)",
				x.name, d, pct, float64(x.rss)/(1<<20), float64(anon)/(1<<20), float64(file)/(1<<20), float64(hwm)/(1<<20))
		}
		b.Logf("machine: %.1f process and thread creations/s; load %s -> %s", rate, load0, load1)
	}
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
