package service

import "fmt"

func (m *Manager) platformStatus(cause error) (State, error) {
	if !exists("/Library/LaunchDaemons/" + m.spec.Name + ".plist") {
		return NotInstalled, nil
	}
	return Stopped, fmt.Errorf("service %s: status on %s: %w", m.spec.Name, m.Platform(), cause)
}

// cleanup has nothing to do: removing the property list removes the daemon.
func (m *Manager) cleanup() error { return nil }
