// Package service installs Vigil's agent and server as system services through
// github.com/kardianos/service: a systemd unit, a launchd daemon, a Windows service, or a SysV
// or OpenRC init script where systemd is not running. It renders each service definition
// itself (so the hardening is reviewed and tested in one place), writes the configuration file
// the service reads (root-only, 0600; on Windows an ACL for SYSTEM and Administrators), and
// makes install, uninstall, start, stop and status idempotent and complete: installing twice is
// harmless, and uninstalling with purge leaves nothing behind.
//
// Every definition restarts the service when it fails and when it exits with ExitRestart (the
// agent does so to switch to a verified upgrade); a clean exit (status 0) is left alone.
package service
