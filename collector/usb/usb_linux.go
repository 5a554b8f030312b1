package usb

import "github.com/vigilhq/vigil/collector"

// liveBackend reads /sys. A machine without a USB bus (a container, a VM without USB) has no
// /sys/bus/usb/devices: that means no devices, not a failure, and is logged once.
func (s *Source) liveBackend() (*backend, error) {
	b := s.sysfsBackend("/sys")
	b.List = collector.AbsentIsNone(s.log, "no USB bus on this machine; reporting no USB devices", b.List)
	return b, nil
}
