package service

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ExitRestart is the exit status with which a service asks its manager to start it again at
// once (EX_TEMPFAIL): the agent uses it after staging a verified upgrade. Every definition
// written here restarts on it; systemd does not count it as a failure.
const ExitRestart = 75

// RestartDelaySeconds is how long each manager waits before restarting a failed service.
const RestartDelaySeconds = 5

// Capability is a Linux capability a service keeps, with the reason it needs it. Every other
// capability is dropped from the bounding set (systemd's CapabilityBoundingSet).
type Capability struct {
	Name   string // CAP_...
	Reason string // one line, written beside it in the unit file
}

// Spec describes one service: what it runs and what it may write.
type Spec struct {
	// Name is the service's name: the systemd unit and init script (Name.service,
	// /etc/init.d/Name), the launchd label and the Windows service name.
	Name        string
	DisplayName string
	Description string
	// Binary is the absolute path of the executable the service runs; Args its arguments.
	Binary string
	Args   []string
	// Writable are the directories the service writes (state, data). Under systemd the rest of
	// the file system is read-only to it.
	Writable []string
	// LogFile receives the service's output where the manager has no journal (SysV, OpenRC,
	// launchd). Under systemd output goes to the journal; on Windows to the service's own log.
	LogFile string
	// Capabilities kept under systemd; nil keeps none.
	Capabilities []Capability
	// PrivateTmp gives the service its own /tmp and /var/tmp under systemd. The agent leaves it
	// off: it watches the real temporary folders for staged data (see AgentSpec).
	PrivateTmp bool
	// PrivateTmpReason explains in the unit why PrivateTmp is off, when it is.
	PrivateTmpReason string
}

// Validate checks what every definition relies on.
func (s *Spec) Validate() error {
	switch {
	case s.Name == "":
		return errors.New("service: empty name")
	case strings.ContainsAny(s.Name, " /\\\t\n\"'$%"):
		return fmt.Errorf("service: name %q: use letters, digits, '-', '_' and '.' only", s.Name)
	case !filepath.IsAbs(s.Binary) && !isWindowsAbs(s.Binary):
		return fmt.Errorf("service %s: binary %q is not an absolute path", s.Name, s.Binary)
	}
	for _, w := range s.Writable {
		if !filepath.IsAbs(w) && !isWindowsAbs(w) {
			return fmt.Errorf("service %s: writable directory %q is not an absolute path", s.Name, w)
		}
	}
	for _, a := range append([]string{s.Binary, s.LogFile}, append(s.Args, s.Writable...)...) {
		if strings.ContainsAny(a, "\n\r\x00") {
			return fmt.Errorf("service %s: %q holds a line break or NUL", s.Name, a)
		}
	}
	return nil
}

// isWindowsAbs reports a drive-letter path (C:\...), so that Windows specs validate anywhere.
func isWindowsAbs(p string) bool {
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
		(p[0] >= 'A' && p[0] <= 'Z' || p[0] >= 'a' && p[0] <= 'z')
}

// AgentCapabilities are the capabilities the agent keeps under systemd. It runs as root to see
// every user's processes and files, but needs none of root's other powers.
var AgentCapabilities = []Capability{
	{"CAP_DAC_READ_SEARCH", "read and watch any user's files and folders (file activity, executable hashes) without the power to write them"},
	{"CAP_SYS_PTRACE", "read /proc/PID/exe and /proc/PID/fd of other users' processes (process images, socket owners); no process is ever traced"},
	{"CAP_NET_ADMIN", "subscribe to the kernel's process-event connector (netlink) for instant process starts"},
}

// ServerCapabilities are the capabilities the server keeps under systemd.
var ServerCapabilities = []Capability{
	{"CAP_NET_BIND_SERVICE", "listen on a port below 1024 (443) when configured to"},
}

// AgentSpec is the agent's service: `BINARY agent run --config CONFIG`, writing only its state
// directory.
func AgentSpec(name, binary, config, state, logFile string) Spec {
	return Spec{
		Name:         name,
		DisplayName:  "Vigil agent",
		Description:  "Vigil endpoint agent: watches this computer for remote-control tools, IP-KVMs and data staging, and reports to the Vigil server.",
		Binary:       binary,
		Args:         []string{"agent", "run", "--config", config},
		Writable:     []string{state},
		LogFile:      logFile,
		Capabilities: AgentCapabilities,
		PrivateTmpReason: "the agent watches the real /tmp and /var/tmp for staged data, which a private /tmp would hide; " +
			"ProtectSystem=strict already makes them read-only to it, so it creates nothing there to be raced",
	}
}

// ServerSpec is the server's service: `BINARY server --config CONFIG`, writing only its data
// directory.
func ServerSpec(name, binary, config, data, logFile string) Spec {
	return Spec{
		Name:         name,
		DisplayName:  "Vigil server",
		Description:  "Vigil server: receives the agents' findings and serves the admin API.",
		Binary:       binary,
		Args:         []string{"server", "--config", config},
		Writable:     []string{data},
		LogFile:      logFile,
		Capabilities: ServerCapabilities,
		PrivateTmp:   true,
	}
}
