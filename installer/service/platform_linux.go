package service

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// definitionPath is where the service manager of platform keeps the definition of name.
func definitionPath(platform, name string) string {
	switch platform {
	case "linux-systemd":
		return "/etc/systemd/system/" + name + ".service"
	case "unix-systemv", "linux-openrc":
		return "/etc/init.d/" + name
	case "linux-upstart":
		return "/etc/init/" + name + ".conf"
	}
	return ""
}

func (m *Manager) platformStatus(cause error) (State, error) {
	def := definitionPath(m.Platform(), m.spec.Name)
	if def == "" {
		return NotInstalled, fmt.Errorf("service %s: status on %s: %w", m.spec.Name, m.Platform(), cause)
	}
	if !exists(def) {
		return NotInstalled, nil
	}
	if m.Platform() == "unix-systemv" {
		// LSB: status exits 0 when running, 3 when stopped.
		err := exec.Command(def, "status").Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return Running, nil
		case errors.As(err, &ee) && ee.ExitCode() == 3:
			return Stopped, nil
		}
		return Stopped, fmt.Errorf("service %s: %s status: %w", m.spec.Name, def, err)
	}
	return Stopped, fmt.Errorf("service %s: status on %s: %w", m.spec.Name, m.Platform(), cause)
}

// cleanup removes what the SysV install leaves behind once the init script is gone: the
// runlevel links to it and the pid file.
func (m *Manager) cleanup() error {
	if m.Platform() != "unix-systemv" {
		return nil
	}
	script := "/etc/init.d/" + m.spec.Name
	links, _ := filepath.Glob("/etc/rc[0-6S].d/[SK][0-9][0-9]" + m.spec.Name)
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && (target == script || target == "../init.d/"+m.spec.Name) {
			if err := os.Remove(l); err != nil {
				return fmt.Errorf("service %s: %w", m.spec.Name, err)
			}
		}
	}
	if err := os.Remove("/var/run/" + m.spec.Name + ".pid"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("service %s: %w", m.spec.Name, err)
	}
	return nil
}
