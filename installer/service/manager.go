package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	kservice "github.com/kardianos/service"
)

// State is what Status reports.
type State int

// States of an installed or absent service.
const (
	NotInstalled State = iota
	Stopped
	Running
)

func (s State) String() string {
	switch s {
	case Running:
		return "running"
	case Stopped:
		return "stopped"
	default:
		return "not installed"
	}
}

// Manager installs and controls one service through the system's service manager.
type Manager struct {
	spec Spec
	svc  kservice.Service
}

// control is the kardianos Interface of a Manager: it only installs and controls the service,
// it never runs it (Run does that), so starting and stopping do nothing in this process.
type control struct{}

func (control) Start(kservice.Service) error { return nil }
func (control) Stop(kservice.Service) error  { return nil }

// New prepares a Manager for spec on this system's service manager.
func New(spec Spec) (*Manager, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	svc, err := kservice.New(control{}, kserviceConfig(spec))
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", spec.Name, err)
	}
	return &Manager{spec: spec, svc: svc}, nil
}

// kserviceConfig hands kardianos the definitions rendered here (they contain no template
// actions, so its template engine copies them as they are).
func kserviceConfig(spec Spec) *kservice.Config {
	return &kservice.Config{
		Name:        spec.Name,
		DisplayName: spec.DisplayName,
		Description: spec.Description,
		Executable:  spec.Binary,
		Arguments:   spec.Args,
		Option: kservice.KeyValue{
			"SystemdScript": Systemd(spec),
			"SysvScript":    SysV(spec),
			"OpenRCScript":  OpenRC(spec),
			"LaunchdConfig": Launchd(spec),
			// Windows: automatic start, restarted 5 s after a failure, the failure count
			// reset after a day without one.
			"StartType":              "automatic",
			"OnFailure":              "restart",
			"OnFailureDelayDuration": fmt.Sprintf("%ds", RestartDelaySeconds),
			"OnFailureResetPeriod":   86400,
		},
	}
}

// Platform names the service manager in use (linux-systemd, unix-systemv, darwin-launchd,
// windows-service, ...).
func (m *Manager) Platform() string { return m.svc.Platform() }

// Spec returns the service's description.
func (m *Manager) Spec() Spec { return m.spec }

// Status reports whether the service is installed and running.
func (m *Manager) Status() (State, error) {
	st, err := m.svc.Status()
	switch {
	case errors.Is(err, kservice.ErrNotInstalled):
		return NotInstalled, nil
	case err == nil && st == kservice.StatusRunning:
		return Running, nil
	case err == nil && st == kservice.StatusStopped:
		return Stopped, nil
	}
	// Some managers answer an error where the service is installed but stopped (SysV's
	// status exits 3), or not installed at all: look at the definition itself.
	return m.platformStatus(err)
}

// Install writes the service definition, registers it to start at boot, and starts it.
// Installing an installed service rewrites its definition and restarts it.
func (m *Manager) Install(ctx context.Context) error {
	st, err := m.Status()
	if err != nil {
		return err
	}
	if st != NotInstalled {
		if err := m.removeDefinition(ctx, st); err != nil {
			return err
		}
	}
	if err := m.svc.Install(); err != nil {
		return fmt.Errorf("service %s: install on %s: %w", m.spec.Name, m.Platform(), err)
	}
	return nil
}

// Uninstall stops the service and removes its definition and every registration. It is not an
// error when the service is not installed.
func (m *Manager) Uninstall(ctx context.Context) error {
	st, err := m.Status()
	if err != nil {
		return err
	}
	if st == NotInstalled {
		return m.cleanup()
	}
	return m.removeDefinition(ctx, st)
}

func (m *Manager) removeDefinition(ctx context.Context, st State) error {
	if st == Running {
		if err := m.Stop(ctx); err != nil {
			return err
		}
	}
	if err := m.svc.Uninstall(); err != nil {
		return fmt.Errorf("service %s: uninstall from %s: %w", m.spec.Name, m.Platform(), err)
	}
	return m.cleanup()
}

// Start starts the service and waits until the manager reports it running. Starting a running
// service is not an error; starting one that is not installed is.
func (m *Manager) Start(ctx context.Context) error {
	return m.control(ctx, "start", Running, m.svc.Start)
}

// Stop stops the service and waits until it has stopped. Stopping a stopped service is not an
// error; stopping one that is not installed is.
func (m *Manager) Stop(ctx context.Context) error { return m.control(ctx, "stop", Stopped, m.svc.Stop) }

func (m *Manager) control(ctx context.Context, verb string, want State, do func() error) error {
	st, err := m.Status()
	if err != nil {
		return err
	}
	switch st {
	case NotInstalled:
		return fmt.Errorf("service %s is not installed", m.spec.Name)
	case want:
		return nil
	}
	if err := do(); err != nil {
		return fmt.Errorf("service %s: %s: %w", m.spec.Name, verb, err)
	}
	return m.wait(ctx, want)
}

// wait polls Status until it reports want or ctx ends.
func (m *Manager) wait(ctx context.Context, want State) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := m.Status()
		if err != nil {
			return err
		}
		if st == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s: still %s, want %s: %w", m.spec.Name, st, want, ctx.Err())
		case <-tick.C:
		}
	}
}

// exists reports whether path exists (an error other than not-exist counts as existing, so
// that nothing is taken for absent by mistake).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
