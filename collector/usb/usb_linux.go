package usb

func (s *Source) liveBackend() (*backend, error) { return s.sysfsBackend("/sys"), nil }
