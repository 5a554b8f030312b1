package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
)

// A fake process: CPU time grows at a set share of a core; RSS is set.
type fakeUsage struct {
	now   time.Time
	cpu   time.Duration
	share float64 // of one core
	rss   int64
}

func (f *fakeUsage) step(d time.Duration) {
	f.now = f.now.Add(d)
	f.cpu += time.Duration(float64(d) * f.share)
}

func TestWatchdogBacksOffAndRecovers(t *testing.T) {
	u := &fakeUsage{now: time.Unix(1e9, 0), share: 0.001, rss: 30 << 20}
	var logs logBuffer
	pace := &collector.Pace{}
	l := newLimiter(2, 150<<20, pace, hclog.New(&hclog.LoggerOptions{Output: &logs}))
	l.read = func() (time.Duration, int64, error) { return u.cpu, u.rss, nil }
	l.now = func() time.Time { return u.now }
	run := func(d time.Duration) {
		for end := u.now.Add(d); u.now.Before(end); {
			u.step(l.every)
			l.sample()
		}
	}
	run(2 * time.Minute)
	if pace.Slowed() || l.limited.Load() != 0 {
		t.Fatalf("idle agent slowed: factor %d", pace.Factor())
	}
	cpu, _, _, _ := l.snapshot()
	if cpu < 0.05 || cpu > 0.15 {
		t.Fatalf("cpu %.3f%%, want 0.1%%", cpu)
	}
	// 10 % of a core for a while: backs off, one step per full window over budget.
	u.share = 0.10
	run(70 * time.Second)
	if pace.Factor() != 2 || l.limited.Load() != 1 {
		t.Fatalf("over CPU budget: factor %d, steps %d", pace.Factor(), l.limited.Load())
	}
	_, _, state, _ := l.snapshot()
	if !strings.Contains(state, "cpu") || !strings.Contains(logs.String(), "over budget: backing off") {
		t.Fatalf("state %q, logs %s", state, logs.String())
	}
	run(5 * time.Minute)
	if pace.Factor() != collector.MaxPaceFactor {
		t.Fatalf("still over after minutes: factor %d", pace.Factor())
	}
	// RSS over budget backs off at once, whatever the CPU.
	u.share, u.rss = 0.001, 200<<20
	steps := l.limited.Load()
	run(10 * time.Second)
	if l.limited.Load() != steps {
		t.Fatal("a step past the slowest pace was counted")
	}
	_, _, state, _ = l.snapshot()
	if !strings.Contains(state, "rss") {
		t.Fatalf("state %q", state)
	}
	// Calm: steps back, one per quiet minute, to full speed.
	u.rss = 30 << 20
	run(10 * time.Minute)
	if pace.Slowed() {
		t.Fatalf("after 10 calm minutes: factor %d", pace.Factor())
	}
	if _, _, state, _ = l.snapshot(); state != "" || !strings.Contains(logs.String(), "back under budget") {
		t.Fatalf("state %q after recovery", state)
	}
}
