#!/bin/sh
# Vigil package: before removal (deb prerm, rpm %preun, apk pre-deinstall). Stops the agent and
# removes its service; an upgrade leaves it to the new version's postinstall. The configuration
# and the state stay (deb purge removes them; see postremove).
set -e
case "$1" in
upgrade | failed-upgrade | 1) exit 0 ;; # deb upgrade; rpm: 1 = another version stays installed
esac
/usr/bin/vigil agent uninstall --config /etc/vigil/agent.yml
