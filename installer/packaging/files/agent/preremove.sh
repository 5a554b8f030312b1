#!/bin/sh
# vigil-agent package: before removal (deb prerm, rpm %preun, apk pre-deinstall). Stops the agent
# and removes its service; an upgrade leaves it to the new version's postinstall, and so does
# vigil-server taking this package's place (its binary runs the agent too, and its postinstall
# restarts the agent on it). The configuration and the state stay (deb purge removes them; see
# postremove).
set -e
case "$1" in
upgrade | failed-upgrade | 1) exit 0 ;; # deb upgrade; rpm: 1 = another version stays installed
remove) if [ "$2" = in-favour ] && [ "$3" = vigil-server ]; then exit 0; fi ;;
esac
/usr/bin/vigil agent uninstall --config /etc/vigil/agent.yml
