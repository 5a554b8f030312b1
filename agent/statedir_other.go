//go:build !linux && !darwin && !windows

package agent

// DefaultStateDir is where the agent keeps its state on other systems.
func DefaultStateDir() string { return "/var/lib/vigil" }
