package service

import (
	"os"
	"path/filepath"
)

func envDir(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// Paths of an installation on Windows.
var (
	programFiles = filepath.Join(envDir("ProgramFiles", `C:\Program Files`), "Vigil")
	programData  = filepath.Join(envDir("ProgramData", `C:\ProgramData`), "Vigil")

	AgentPaths = Paths{
		Binary:  filepath.Join(programFiles, "vigil.exe"),
		Config:  filepath.Join(programData, "agent.yml"),
		Data:    filepath.Join(programData, "state"),
		LogFile: filepath.Join(programData, "state", "agent.log"),
	}
	ServerPaths = Paths{
		Binary:  filepath.Join(programFiles, "vigil.exe"),
		Config:  filepath.Join(programData, "server.yml"),
		Data:    filepath.Join(programData, "server-data"),
		LogFile: filepath.Join(programData, "server.log"),
	}
	// PackageBinary is where the Windows zip's instructions put the binary.
	PackageBinary = filepath.Join(programFiles, "vigil.exe")
)
