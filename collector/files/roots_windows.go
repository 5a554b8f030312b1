package files

import (
	"os"
	"path/filepath"
)

// DefaultRoots are the folders watched by default on Windows: user profiles under
// %SystemDrive%\Users (Public included), %TEMP%, C:\Temp and C:\Windows\Tasks (a known staging
// folder).
func DefaultRoots() []string {
	drive := os.Getenv("SystemDrive")
	if drive == "" {
		drive = "C:"
	}
	users := filepath.Join(drive+`\`, "Users")
	roots := subdirs(users, "Default", "Default User", "All Users")
	windir := os.Getenv("SystemRoot")
	if windir == "" {
		windir = filepath.Join(drive+`\`, "Windows")
	}
	roots = append(roots, os.TempDir(), filepath.Join(drive+`\`, "Temp"), filepath.Join(windir, "Tasks"))
	return existing(roots)
}
