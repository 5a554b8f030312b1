package display

import (
	"context"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// liveBackend reads /sys/class/drm. A machine without DRM (a server, a container) has no such
// folder: that means no displays, not a failure, and is logged once.
func (s *Source) liveBackend() (*backend, error) {
	return &backend{Product: event.Linux, List: collector.AbsentIsNone(s.log, "no DRM displays on this machine; reporting none",
		func(context.Context) ([]Display, error) { return ReadDRM("/sys") })}, nil
}
