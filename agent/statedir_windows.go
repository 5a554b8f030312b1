package agent

import (
	"os"
	"path/filepath"
)

// DefaultStateDir is where the agent keeps its state on Windows: %ProgramData%\Vigil.
func DefaultStateDir() string {
	base := os.Getenv("ProgramData")
	if base == "" {
		base = `C:\ProgramData`
	}
	return filepath.Join(base, "Vigil")
}
