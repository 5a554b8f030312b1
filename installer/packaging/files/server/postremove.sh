#!/bin/sh
# vigil-server package: after removal (deb postrm, rpm %postun, apk post-deinstall). On deb purge,
# removes what the server's installation wrote: its configuration, the record of the
# installation, the data folder (database, CA, keys, enroll secret) and the log. An agent's files
# (vigil-agent's, or an agent installed by hand) are not the server's and stay.
set -e
case "$1" in
purge)
	rm -rf /etc/vigil/server.yml /etc/vigil/vigil-server.installed.json /var/lib/vigil-server \
		/var/log/vigil-server.log
	rmdir /etc/vigil 2>/dev/null || true
	;;
esac
exit 0
