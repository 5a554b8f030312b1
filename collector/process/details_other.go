//go:build !linux && !darwin && !windows

package process

import "context"

// osDetails reads a process through gopsutil on the other systems it supports.
func (s *Source) osDetails(ctx context.Context, pid int) (*procInfo, error) {
	return gopsInfo(ctx, pid)
}
