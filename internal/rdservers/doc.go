// Package rdservers starts real remote-desktop servers and tunnels (Debian's Xtigervnc, x11vnc,
// xrdp, websockify, socat, sshd) for tests on Linux, each stopped when its test ends. A test
// whose tool is not installed is skipped, naming the Debian package to install; .ci/run installs
// them.
package rdservers
