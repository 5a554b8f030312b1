//go:build !linux && !darwin && !windows

package media

import "errors"

func (s *Source) liveBackend() (*backend, error) {
	return nil, errors.New("no live source on this OS; set ProcRoot/SysfsRoot or MountsFile")
}
