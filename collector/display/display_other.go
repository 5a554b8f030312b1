//go:build !linux && !darwin && !windows

package display

import "errors"

func (s *Source) liveBackend() (*backend, error) {
	return nil, errors.New("no live display source on this OS; set SysfsRoot, IoregFile, SystemProfilerFile or RegistryFile")
}
