package agent

// DefaultStateDir is where the agent keeps its state on Linux.
func DefaultStateDir() string { return "/var/lib/vigil" }
