package display

import (
	"context"
	"errors"
	"io/fs"
	"sync"

	"github.com/vigilhq/vigil/internal/event"
)

// liveBackend reads /sys/class/drm. A machine without DRM (a server, a container) has no such
// folder: that means no displays, not a failure, and is logged once.
func (s *Source) liveBackend() (*backend, error) {
	var once sync.Once
	return &backend{product: event.Linux, list: func(context.Context) ([]Display, error) {
		ds, err := ReadDRM("/sys")
		if errors.Is(err, fs.ErrNotExist) {
			once.Do(func() { s.log.Info("no DRM displays on this machine; reporting none", "error", err) })
			return nil, nil
		}
		return ds, err
	}}, nil
}
