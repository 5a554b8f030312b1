package process

import (
	"context"
	"fmt"
	"os"

	gproc "github.com/shirou/gopsutil/v3/process"
	"golang.org/x/sys/unix"
)

// osDetails reads a macOS process: parent and user through gopsutil (kinfo_proc), executable
// path and arguments from sysctl kern.procargs2 (gopsutil without cgo would run lsof and ps for
// each process). The working directory needs proc_pidinfo, which is not reachable without cgo,
// so CurrentDirectory is left out on macOS.
func (s *Source) osDetails(ctx context.Context, pid int) (*procInfo, error) {
	p := &gproc.Process{Pid: int32(pid)}
	ppid, err := p.PpidWithContext(ctx)
	if err != nil {
		// kinfo_proc is readable for every live process: it is gone.
		return nil, fmt.Errorf("process %d: %w (%w)", pid, os.ErrNotExist, err)
	}
	info := &procInfo{PID: pid, PPID: int(ppid)}
	if v, err := p.UsernameWithContext(ctx); err == nil {
		info.User = v
	}
	if v, err := p.NameWithContext(ctx); err == nil {
		info.Name = v
	}
	if buf, err := unix.SysctlRaw("kern.procargs2", pid); err == nil {
		if exe, cmd, err := parseProcArgs2(buf, s.cfg.MaxCommandLine); err == nil {
			info.Image, info.CommandLine = exe, cmd
		}
	}
	if info.Image == "" && info.CommandLine == "" {
		// kernel_task, or a zombie: nothing to report.
		return nil, fmt.Errorf("process %d (%s): %w", pid, info.Name, errNotReportable)
	}
	return info, nil
}
