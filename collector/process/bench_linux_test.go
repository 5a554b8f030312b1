package process

import (
	"context"
	"os"
	"testing"

	"github.com/vigilhq/vigil/internal/event"
)

// BenchmarkPollSteadyState is the per-poll cost of the polling path (gopsutil listing with a
// start time per process, diffed against the known table) on this machine's process table, when
// nothing changed. The procs metric is the number of processes listed.
func BenchmarkPollSteadyState(b *testing.B) {
	s := New(Config{Poll: true})
	p := s.newLinuxPoller()
	ctx := context.Background()
	discard := func(*event.Event) {}
	if err := p.poll(ctx, discard, true); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.poll(ctx, discard, false); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(p.known)), "procs")
}

// BenchmarkProcfsRead is the cost of reading one process on an exec event (exe, cmdline, cwd,
// status, cached user name), before hashing.
func BenchmarkProcfsRead(b *testing.B) {
	fs := New(Config{}).procfs()
	pid := os.Getpid()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := fs.read(pid); err != nil {
			b.Fatal(err)
		}
	}
}
