package agent

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shirou/gopsutil/v3/process"

	"github.com/vigilhq/vigil/collector"
)

// The watchdog, after osquery's: the agent samples its own CPU time and resident memory, and
// above budget (CPU in percent of one core averaged over a minute, RSS now) it backs off:
// each step doubles the collectors' polling intervals and stops hashing executables
// (collector.Pace), logs a line and counts it (Health.SelfLimited). Under half the budget for a
// minute it steps back. It never kills the agent: the service manager's memory limit is the
// last line, and the Go runtime's soft memory limit is set to the RSS budget so the collector
// of garbage works harder before the budget is reached.

// limitSample is one reading.
type limitSample struct {
	at  time.Time
	cpu time.Duration // the process's user+system CPU time so far
}

// usage reads the process's CPU time and RSS.
type usage func() (cpu time.Duration, rss int64, err error)

func selfUsage() usage {
	p, err := process.NewProcess(int32(os.Getpid()))
	return func() (time.Duration, int64, error) {
		if err != nil {
			return 0, 0, err
		}
		t, err := p.Times()
		if err != nil {
			return 0, 0, err
		}
		m, err := p.MemoryInfo()
		if err != nil {
			return 0, 0, err
		}
		return time.Duration((t.User + t.System) * float64(time.Second)), int64(m.RSS), nil
	}
}

// limiter is the watchdog.
type limiter struct {
	cpuBudget float64 // percent of one core
	rssBudget int64
	window    time.Duration // CPU averaging window (a minute)
	every     time.Duration // sampling period
	read      usage
	pace      *collector.Pace
	log       hclog.Logger
	now       func() time.Time

	mu      sync.Mutex
	samples []limitSample
	level   int       // 0: full speed; n: factor 2^n
	calm    time.Time // since when usage has been under half the budget
	cpuPct  float64
	rss     int64
	state   string

	limited atomic.Int64 // back-off steps taken (total, seeded from the status file)
}

const maxLimitLevel = 4 // factor 16 = collector.MaxPaceFactor

func newLimiter(cpuBudget float64, rssBudget int64, pace *collector.Pace, log hclog.Logger) *limiter {
	return &limiter{
		cpuBudget: cpuBudget, rssBudget: rssBudget, window: time.Minute, every: 5 * time.Second,
		read: selfUsage(), pace: pace, log: log, now: time.Now,
	}
}

func (l *limiter) run(ctx context.Context) {
	debug.SetMemoryLimit(l.rssBudget)
	t := time.NewTicker(l.every)
	defer t.Stop()
	l.sample()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.sample()
		}
	}
}

// sample takes one reading and decides.
func (l *limiter) sample() {
	cpu, rss, err := l.read()
	if err != nil {
		l.log.Debug("cannot read own usage", "error", err)
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.samples = append(l.samples, limitSample{at: now, cpu: cpu})
	// Keep one sample at or before the window's start, as the baseline.
	for len(l.samples) > 2 && now.Sub(l.samples[1].at) >= l.window {
		l.samples = l.samples[1:]
	}
	first := l.samples[0]
	l.rss = rss
	full := now.Sub(first.at) >= l.window-l.every/2 // a whole window of samples
	if el := now.Sub(first.at); el > 0 {
		l.cpuPct = 100 * float64(cpu-first.cpu) / float64(el)
	}
	var over string
	switch {
	case rss > l.rssBudget:
		over = fmt.Sprintf("rss %d MiB over the %d MiB budget", rss>>20, l.rssBudget>>20)
	case full && l.cpuPct > l.cpuBudget:
		over = fmt.Sprintf("cpu %.2f%% of a core over the %.2f%% budget", l.cpuPct, l.cpuBudget)
	}
	if over != "" {
		l.calm = time.Time{}
		if l.level < maxLimitLevel {
			l.level++
			l.limited.Add(1)
			l.pace.Set(1 << l.level)
			l.log.Warn("over budget: backing off (longer poll intervals, no executable hashing)", "reason", over, "slowdown", 1<<l.level)
			if rss > l.rssBudget {
				debug.FreeOSMemory()
			}
			// Measure the new pace over a fresh window.
			l.samples = l.samples[len(l.samples)-1:]
		}
		l.state = over
		return
	}
	if l.level == 0 {
		l.state = ""
		return
	}
	if rss < l.rssBudget/2 && (!full || l.cpuPct < l.cpuBudget/2) {
		if l.calm.IsZero() {
			l.calm = now
		}
		if now.Sub(l.calm) >= l.window {
			l.level--
			l.pace.Set(1 << l.level)
			l.calm = time.Time{}
			l.log.Info("back under budget: speeding up", "slowdown", 1<<l.level, "cpu_percent", l.cpuPct, "rss_mib", rss>>20)
			if l.level == 0 {
				l.state = ""
			}
		}
	} else {
		l.calm = time.Time{}
	}
}

// snapshot returns the last figures: CPU percent over the window, RSS, the reason it is
// backing off now ("" when not) and the total of back-off steps.
func (l *limiter) snapshot() (cpuPct float64, rss int64, state string, limited int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cpuPct, l.rss, l.state, l.limited.Load()
}
