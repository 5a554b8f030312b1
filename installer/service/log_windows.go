package service

import (
	"io"
	"os"
	"path/filepath"

	kservice "github.com/kardianos/service"
)

// maxLogBytes is the size at which the Windows service log is moved aside (to .1) at start.
const maxLogBytes = 10 << 20

// ServiceLog returns where a process running as a Windows service should log: the service
// control manager keeps no output, so it is dir\agent.log (the state folder, readable by
// SYSTEM and Administrators alone), moved aside to agent.log.1 when over 10 MiB at start. ok
// is false when the process is not a service (a terminal): log to standard error then.
func ServiceLog(dir string) (w io.WriteCloser, ok bool) {
	if kservice.Interactive() || dir == "" {
		return nil, false
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false
	}
	p := filepath.Join(dir, "agent.log")
	if fi, err := os.Stat(p); err == nil && fi.Size() > maxLogBytes {
		_ = os.Rename(p, p+".1")
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, false
	}
	return f, true
}
