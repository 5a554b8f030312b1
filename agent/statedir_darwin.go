package agent

// DefaultStateDir is where the agent keeps its state on macOS.
func DefaultStateDir() string { return "/Library/Application Support/Vigil" }
