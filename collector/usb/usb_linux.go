package usb

import (
	"context"
	"errors"
	"io/fs"
	"sync"
)

// liveBackend reads /sys. A machine without a USB bus (a container, a VM without USB) has no
// /sys/bus/usb/devices: that means no devices, not a failure, and is logged once.
func (s *Source) liveBackend() (*backend, error) {
	b := s.sysfsBackend("/sys")
	list := b.list
	var once sync.Once
	b.list = func(ctx context.Context) ([]Device, error) {
		devs, err := list(ctx)
		if errors.Is(err, fs.ErrNotExist) {
			once.Do(func() { s.log.Info("no USB bus on this machine; reporting no USB devices", "error", err) })
			return nil, nil
		}
		return devs, err
	}
	return b, nil
}
