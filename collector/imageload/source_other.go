//go:build !linux && !windows

package imageload

import (
	"context"

	"github.com/vigilhq/vigil/collector"
)

// Snapshot reports nothing: loaded modules are not collected on this platform yet.
func (s *Source) Snapshot(ctx context.Context, emit collector.Emit) error { return nil }

func (s *Source) snapshot(context.Context, collector.Emit, bool) error { return nil }

func (s *Source) report(int, bool, collector.Emit) bool { return false }
