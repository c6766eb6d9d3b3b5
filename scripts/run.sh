#!/usr/bin/env bash
# The run command: installs what is missing, builds, and runs the daemon in the
# foreground (Ctrl-C stops it). Arguments go to `metricsd serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
scripts/build.sh -DMETRICSD_TESTS=OFF
args=("$@")
# As root the embedded PostgreSQL runs as the `postgres` user, which must be able to reach
# the data dir; a checkout under a private home cannot, so use /var/lib/metricsd then.
if [ "$(id -u)" -eq 0 ] && [ -z "${METRICSD_DATA_DIR:-}" ] && [[ " $* " != *" --data-dir"* ]] &&
   ! runuser -u postgres -- test -x "$PWD" 2>/dev/null; then
  echo "run.sh: $PWD is not reachable by the postgres user; using --data-dir /var/lib/metricsd" >&2
  args=(--data-dir /var/lib/metricsd "${args[@]}")
fi
exec build/metricsd serve "${args[@]}"
