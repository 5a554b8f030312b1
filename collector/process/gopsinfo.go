//go:build !linux && !darwin

package process

import (
	"context"
	"fmt"
	"os"

	gproc "github.com/shirou/gopsutil/v3/process"
)

// gopsInfo reads a process through gopsutil, best effort: fields the OS refuses (another user's
// process, a protected Windows process) are left out. Only a process that is gone is an error.
func gopsInfo(ctx context.Context, pid int) (*procInfo, error) {
	p := &gproc.Process{Pid: int32(pid)}
	info := &procInfo{PID: pid}
	ppid, err := p.PpidWithContext(ctx)
	if err != nil {
		if ok, _ := gproc.PidExistsWithContext(ctx, int32(pid)); !ok {
			return nil, fmt.Errorf("process %d: %w", pid, os.ErrNotExist)
		}
	}
	info.PPID = int(ppid)
	if v, err := p.ExeWithContext(ctx); err == nil {
		info.Image = v
	}
	if v, err := p.CmdlineWithContext(ctx); err == nil {
		info.CommandLine = v
	}
	if v, err := p.CwdWithContext(ctx); err == nil {
		info.CurrentDirectory = v
	}
	if v, err := p.UsernameWithContext(ctx); err == nil {
		info.User = v
	}
	if v, err := p.NameWithContext(ctx); err == nil {
		info.Name = v
	}
	if info.Image == "" && info.CommandLine == "" {
		if ok, _ := gproc.PidExistsWithContext(ctx, int32(pid)); !ok {
			return nil, fmt.Errorf("process %d: %w", pid, os.ErrNotExist)
		}
		// The idle and System processes on Windows, protected processes.
		return nil, fmt.Errorf("process %d (%s): %w", pid, info.Name, errNotReportable)
	}
	return info, nil
}
