//go:build !windows

package service

import "io"

// ServiceLog is for Windows, whose service manager keeps no output; elsewhere the manager
// keeps it (systemd's journal, the SysV and OpenRC log file, launchd's StandardErrorPath), so
// ok is false: log to standard error.
func ServiceLog(string) (w io.WriteCloser, ok bool) { return nil, false }
