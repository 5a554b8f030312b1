//go:build !linux && !darwin && !windows

package usb

import "errors"

func (s *Source) liveBackend() (*backend, error) {
	return nil, errors.New("no live USB source on this OS; set SysfsRoot, IoregFile or WindowsDevicesFile")
}
