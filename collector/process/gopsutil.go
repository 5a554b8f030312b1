package process

import (
	"context"
	"fmt"

	"github.com/shirou/gopsutil/v3/common"
	gproc "github.com/shirou/gopsutil/v3/process"
)

func init() {
	// Boot time does not change while the agent runs; without the cache gopsutil re-reads it
	// (and probes for virtualization) for every process's start time on Linux.
	gproc.EnableBootTimeCache(true)
}

// gopsLister lists processes through gopsutil. details reads a new process in full; it is per
// OS (procfs on Linux, gopsutil plus the PE version resource on Windows...).
type gopsLister struct {
	procRoot string
	details  func(ctx context.Context, pid int) (*procInfo, error)
}

// withRoot points gopsutil's Linux reads at the configured procfs root.
func withRoot(ctx context.Context, procRoot string) context.Context {
	if procRoot == "" || procRoot == "/proc" {
		return ctx
	}
	return context.WithValue(ctx, common.EnvKey, common.EnvMap{common.HostProcEnvKey: procRoot})
}

func (l *gopsLister) list(ctx context.Context) ([]pidStamp, error) {
	ctx = withRoot(ctx, l.procRoot)
	pids, err := gproc.PidsWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("gopsutil pids: %w", err)
	}
	out := make([]pidStamp, 0, len(pids))
	for _, pid := range pids {
		p := gproc.Process{Pid: pid}
		start, err := p.CreateTimeWithContext(ctx)
		if err != nil {
			continue // exited since the listing, or not ours to read
		}
		out = append(out, pidStamp{PID: int(pid), Start: start})
	}
	return out, nil
}

func (l *gopsLister) info(ctx context.Context, pid int) (*procInfo, error) {
	return l.details(withRoot(ctx, l.procRoot), pid)
}
