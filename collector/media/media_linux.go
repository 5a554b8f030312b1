package media

func (s *Source) liveBackend() (*backend, error) { return s.linuxBackend(), nil }
