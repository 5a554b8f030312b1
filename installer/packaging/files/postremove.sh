#!/bin/sh
# Vigil package: after removal (deb postrm, rpm %postun, apk post-deinstall). On deb purge,
# removes the configuration, the state (token, queue) and the log, leaving nothing behind.
set -e
case "$1" in
purge) rm -rf /etc/vigil /var/lib/vigil /var/log/vigil.log ;;
esac
exit 0
