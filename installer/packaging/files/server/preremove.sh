#!/bin/sh
# vigil-server package: before removal (deb prerm, rpm %preun, apk pre-deinstall). Stops the
# server and removes its service, and so for an agent service that runs this package's
# /usr/bin/vigil, which is about to go; an upgrade leaves them to the new version's postinstall.
# Configuration and data stay (deb purge removes the server's; see postremove).
set -e
case "$1" in
upgrade | failed-upgrade | 1) exit 0 ;; # deb upgrade; rpm: 1 = another version stays installed
esac
if /usr/bin/vigil agent status 2>/dev/null | grep -qx 'binary: /usr/bin/vigil'; then
	/usr/bin/vigil agent uninstall --config /etc/vigil/agent.yml
fi
/usr/bin/vigil server uninstall --config /etc/vigil/server.yml
