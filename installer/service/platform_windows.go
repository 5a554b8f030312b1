package service

import "fmt"

func (m *Manager) platformStatus(cause error) (State, error) {
	return NotInstalled, fmt.Errorf("service %s: status on %s: %w", m.spec.Name, m.Platform(), cause)
}

// cleanup has nothing to do: deleting the service removes its registration and event source.
func (m *Manager) cleanup() error { return nil }
