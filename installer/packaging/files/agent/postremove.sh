#!/bin/sh
# vigil-agent package: after removal (deb postrm, rpm %postun, apk post-deinstall). On deb purge,
# removes what the agent's installation wrote: its configuration, the record of the
# installation, the release root, the state (token, queue) and the log, leaving nothing behind.
# A server's files in /etc/vigil (vigil-server) are not the agent's and stay.
set -e
case "$1" in
purge)
	rm -rf /etc/vigil/agent.yml /etc/vigil/vigil.installed.json /etc/vigil/release-root.json \
		/var/lib/vigil /var/log/vigil.log
	rmdir /etc/vigil 2>/dev/null || true
	;;
esac
exit 0
