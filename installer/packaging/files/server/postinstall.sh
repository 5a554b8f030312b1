#!/bin/sh
# vigil-server package: after install and upgrade (deb postinst, rpm %post, apk post-install and
# post-upgrade). Registers the server's service (vigil-server) and starts it: on its first start
# the server creates its data folder, CA, keys, enroll secret and admin account and logs them
# (docs/install.md). VIGIL_LISTEN, VIGIL_HOSTNAME, VIGIL_DB... in the environment of the package
# manager are written into /etc/vigil/server.yml. An upgrade keeps the configuration and the data
# and restarts the server on the new binary.
#
# This package's vigil is the full build, which holds the agent too: an agent service that runs
# /usr/bin/vigil (left by the vigil-agent package this one replaced, or installed by hand) is
# restarted on it, from its own configuration alone, and left stopped if it was.
set -e
/usr/bin/vigil server install --binary /usr/bin/vigil --config /etc/vigil/server.yml
state=0
agent=$(/usr/bin/vigil agent status 2>/dev/null) || state=$?
if printf '%s\n' "$agent" | grep -qx 'binary: /usr/bin/vigil'; then
	start=
	[ "$state" -eq 0 ] || start=--no-start
	env -i PATH="$PATH" /usr/bin/vigil agent install --binary /usr/bin/vigil \
		--config /etc/vigil/agent.yml --allow-unconfigured $start
fi
