//go:build !linux

package process

import (
	"context"
	"errors"
	"os"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// On macOS, Windows and the other systems gopsutil supports, processes are polled.

// errNotReportable marks a process with no executable path or command line to report (and
// none to expect later), such as a kernel or system pseudo-process.
var errNotReportable = errors.New("no executable path or command line")

func (s *Source) newPoller() *poller {
	l := &gopsLister{details: func(ctx context.Context, pid int) (*procInfo, error) {
		info, err := s.osDetails(ctx, pid)
		if err != nil {
			return nil, err
		}
		if len(info.CommandLine) > s.cfg.MaxCommandLine {
			info.CommandLine = info.CommandLine[:s.cfg.MaxCommandLine]
		}
		return info, nil
	}}
	return newPoller(l, event.LocalProduct(), s.hashInfo)
}

func (s *Source) snapshot(ctx context.Context, emit collector.Emit) error {
	return s.newPoller().poll(ctx, emit, true)
}

func (s *Source) run(ctx context.Context, emit collector.Emit) error {
	return s.runPoll(ctx, emit, s.newPoller(), false)
}

// hashInfo fills Hashes for a polled process from its Image path (skipping what cannot be read,
// such as another user's binary or one above the size cap).
func (s *Source) hashInfo(info *procInfo) {
	if info.Image == "" || info.Hashes != "" {
		return
	}
	s.identity(info, info.Image)
	sum, err := s.hasher.Hash(info.Image)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Debug("executable not hashed", "image", info.Image, "error", err)
		}
		return
	}
	info.Hashes = sum
}

// describe reads one process (for Resolver).
func (s *Source) describe(ctx context.Context, pid int) (*procInfo, error) {
	return s.osDetails(ctx, pid)
}
