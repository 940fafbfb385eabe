#!/bin/sh
# The coffer command of the host package: the CLI on the service's data folder. Run it as the
# service user so it talks to the running service: sudo -u coffer coffer dashboard
: "${COFFER_DATA_DIR:=/var/lib/coffer}"
export COFFER_DATA_DIR
# The V8 flags: scripts/node-flags.mjs (why there).
exec /usr/bin/node --single-threaded-gc /usr/lib/coffer/dist/cli.mjs "$@"
