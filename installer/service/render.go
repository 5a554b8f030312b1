package service

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// header is the first comment of every definition this package writes.
const header = "Written by `vigil agent install` or `vigil server install`; run it again to rewrite this file."

// Systemd renders the unit file of s. Each hardening line carries its reason.
func Systemd(s Spec) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# %s", header)
	w("[Unit]")
	w("Description=%s", s.DisplayName)
	w("After=network-online.target")
	w("Wants=network-online.target")
	w("# Keep restarting a failing service, at most 20 times in 10 minutes.")
	w("StartLimitIntervalSec=600")
	w("StartLimitBurst=20")
	w("")
	w("[Service]")
	w("Type=simple")
	args := []string{sdExecArg(s.Binary)}
	for _, a := range s.Args {
		args = append(args, sdExecArg(a))
	}
	w("ExecStart=%s", strings.Join(args, " "))
	w("# Restart when it fails, and when it exits %d to switch to a verified upgrade.", ExitRestart)
	w("Restart=on-failure")
	w("RestartSec=%d", RestartDelaySeconds)
	w("RestartForceExitStatus=%d", ExitRestart)
	w("SuccessExitStatus=%d", ExitRestart)
	w("# Files it creates are its own alone (state, tokens, queue).")
	w("UMask=0077")
	w("")
	w("# Hardening: docs/install.md explains each line.")
	w("# It never gains privileges through exec (setuid, file capabilities).")
	w("NoNewPrivileges=yes")
	w("# The whole file system is read-only to it, but for the directories it writes.")
	w("ProtectSystem=strict")
	if len(s.Writable) > 0 {
		var paths []string
		for _, p := range s.Writable {
			paths = append(paths, sdPath(p))
		}
		w("ReadWritePaths=%s", strings.Join(paths, " "))
	}
	w("# Home folders are readable (the agent watches them) and never writable.")
	w("ProtectHome=read-only")
	if s.PrivateTmp {
		w("# Its own /tmp and /var/tmp, invisible to other users.")
		w("PrivateTmp=yes")
	} else {
		w("# PrivateTmp is off: %s.", s.PrivateTmpReason)
		w("PrivateTmp=no")
	}
	w("# Capabilities kept; root's others are dropped:")
	var caps []string
	for _, c := range s.Capabilities {
		w("#   %s: %s", c.Name, c.Reason)
		caps = append(caps, c.Name)
	}
	w("CapabilityBoundingSet=%s", strings.Join(caps, " "))
	w("# No kernel tuning, modules, kernel log, clock or control-group writes; no realtime,")
	w("# set-id files, personality changes, writable-and-executable memory, or foreign syscall ABIs.")
	w("ProtectKernelTunables=yes")
	w("ProtectKernelModules=yes")
	w("ProtectKernelLogs=yes")
	w("ProtectControlGroups=yes")
	w("ProtectClock=yes")
	w("RestrictRealtime=yes")
	w("RestrictSUIDSGID=yes")
	w("LockPersonality=yes")
	w("MemoryDenyWriteExecute=yes")
	w("SystemCallArchitectures=native")
	w("# Sockets: local, IP (the server, DNS) and netlink (process events, neighbours, routes).")
	w("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK")
	w("")
	w("[Install]")
	w("WantedBy=multi-user.target")
	return b.String()
}

// sdExecArg quotes one ExecStart word: specifiers (%) and variables ($) are doubled, and a word
// with spaces, quotes or backslashes is double-quoted.
func sdExecArg(a string) string {
	a = strings.ReplaceAll(strings.ReplaceAll(a, "%", "%%"), "$", "$$")
	if a != "" && !strings.ContainsAny(a, " \t\"'\\;") {
		return a
	}
	return `"` + strings.ReplaceAll(strings.ReplaceAll(a, `\`, `\\`), `"`, `\"`) + `"`
}

// sdPath quotes one path of a path list setting.
func sdPath(p string) string {
	p = strings.ReplaceAll(p, "%", "%%")
	if !strings.ContainsAny(p, " \t\"'\\") {
		return p
	}
	return `"` + strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), `"`, `\"`) + `"`
}

// shQuote quotes a word for a POSIX shell.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func shCommand(s Spec) string {
	words := []string{shQuote(s.Binary)}
	for _, a := range s.Args {
		words = append(words, shQuote(a))
	}
	return strings.Join(words, " ")
}

// SysV renders an LSB init script for systems without systemd. It starts a small supervisor
// that runs the service and restarts it when it fails; stop ends both.
func SysV(s Spec) string {
	return strings.NewReplacer(
		"@NAME@", s.Name,
		"@DISPLAY@", s.DisplayName,
		"@DESCRIPTION@", s.Description,
		"@HEADER@", header,
		"@COMMAND@", shCommand(s),
		"@LOGFILE@", shQuote(s.LogFile),
		"@LOGDIR@", shQuote(filepath.Dir(s.LogFile)),
		"@DELAY@", strconv.Itoa(RestartDelaySeconds),
		"@EXITRESTART@", strconv.Itoa(ExitRestart),
	).Replace(sysvTemplate)
}

// The supervisor: runs the command, restarts it RestartDelaySeconds after a failure (any
// status but 0), and on TERM stops it and waits for it. Its pid is in the pid file.
const sysvTemplate = `#!/bin/sh
# @HEADER@
### BEGIN INIT INFO
# Provides:          @NAME@
# Required-Start:    $network $remote_fs $syslog
# Required-Stop:     $network $remote_fs $syslog
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: @DISPLAY@
# Description:       @DESCRIPTION@
### END INIT INFO
# chkconfig: 2345 90 10

name=@NAME@
pid_file=/var/run/$name.pid
log_file=@LOGFILE@

supervise() {
	child=
	trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; [ -n "$child" ] && wait "$child"; exit 0' TERM INT
	while :; do
		umask 077
		@COMMAND@ </dev/null >>"$log_file" 2>&1 &
		child=$!
		wait "$child"
		status=$?
		child=
		# A clean exit stays down; a failure, or @EXITRESTART@ (upgrade), restarts.
		[ "$status" -eq 0 ] && exit 0
		echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') $name exited with status $status; restarting in @DELAY@ s" >>"$log_file"
		sleep @DELAY@ &
		wait $!
	done
}

is_running() {
	[ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

case "$1" in
start)
	if is_running; then
		echo "Already running"
		exit 0
	fi
	mkdir -p @LOGDIR@
	supervise </dev/null >/dev/null 2>&1 &
	echo $! >"$pid_file"
	echo "Started"
	;;
stop)
	if ! is_running; then
		rm -f "$pid_file"
		echo "Not running"
		exit 0
	fi
	kill -TERM "$(cat "$pid_file")"
	i=0
	while is_running && [ $i -lt 60 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	if is_running; then
		echo "Not stopped after 30 s"
		exit 1
	fi
	rm -f "$pid_file"
	echo "Stopped"
	;;
restart | force-reload)
	"$0" stop && "$0" start
	;;
status)
	if is_running; then
		echo "Running"
		exit 0
	fi
	echo "Stopped"
	exit 3
	;;
*)
	echo "Usage: $0 {start|stop|restart|status}"
	exit 2
	;;
esac
exit 0
`

// OpenRC renders an OpenRC service script: supervise-daemon runs the service and respawns it.
func OpenRC(s Spec) string {
	var args []string
	for _, a := range s.Args {
		args = append(args, shQuote(a))
	}
	return fmt.Sprintf(`#!/sbin/openrc-run
# %s
description=%s
supervisor=supervise-daemon
command=%s
command_args="%s"
output_log=%s
error_log=%s
respawn_delay=%d
respawn_max=0
umask=077

depend() {
	need net
	use dns logger
}
`, header, shQuote(s.Description), shQuote(s.Binary), strings.Join(args, " "), shQuote(s.LogFile), shQuote(s.LogFile), RestartDelaySeconds)
}

// Launchd renders the launchd property list of a daemon: started at boot, restarted when it
// exits with a failure (KeepAlive/SuccessfulExit=false), output to LogFile.
func Launchd(s Spec) string {
	var b bytes.Buffer
	esc := func(v string) string {
		var e bytes.Buffer
		_ = xml.EscapeText(&e, []byte(v)) // writes to memory: cannot fail
		return e.String()
	}
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- %s -->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>%s</string>
	<key>ProgramArguments</key>
	<array>
`, esc(header), esc(s.Name))
	for _, a := range append([]string{s.Binary}, s.Args...) {
		fmt.Fprintf(&b, "\t\t<string>%s</string>\n", esc(a))
	}
	fmt.Fprintf(&b, `	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>%d</integer>
	<key>Umask</key>
	<integer>63</integer>
	<key>ProcessType</key>
	<string>Background</string>
	<key>StandardOutPath</key>
	<string>%s</string>
	<key>StandardErrorPath</key>
	<string>%s</string>
</dict>
</plist>
`, RestartDelaySeconds, esc(s.LogFile), esc(s.LogFile))
	return b.String()
}
