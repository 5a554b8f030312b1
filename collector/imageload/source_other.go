//go:build !linux && !windows

package imageload

import (
	"context"

	"github.com/vigilhq/vigil/collector"
)

// Snapshot reports nothing: loaded modules are not collected on this platform yet.
func (s *Source) Snapshot(ctx context.Context, emit collector.Emit) error { return nil }

func (s *Source) report(pid int, emit collector.Emit) {}
