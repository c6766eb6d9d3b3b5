#!/usr/bin/env bash
# A demo fleet with one command: builds what is missing, starts metricsd (its own embedded
# PostgreSQL under $DEMO_DIR, default /tmp/metricsd-demo) and metricsd-sim with 50 nodes,
# prints curl commands to try, and stops both on Ctrl-C.
#   scripts/demo.sh                      # 50 nodes for an hour on 127.0.0.1:8080
#   NODES=1000 DURATION=10m PORT=8081 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${METRICSD_BUILD_DIR:-build}
port=${PORT:-8080}
nodes=${NODES:-50}
duration=${DURATION:-1h}
demo_dir=${DEMO_DIR:-/tmp/metricsd-demo}

if [ ! -x "$build_dir/metricsd" ] || [ ! -x "$build_dir/tools/metricsd-sim" ]; then
  scripts/deps.sh build
  METRICSD_BUILD_DIR=$build_dir scripts/build.sh -DMETRICSD_TESTS=OFF
fi
mkdir -p "$demo_dir"
chmod 0755 "$demo_dir"   # as root, the embedded PostgreSQL runs as `postgres` and must reach it

# The daemon refuses METRICSD_* variables it does not know (METRICSD_BUILD_DIR is ours).
env -u METRICSD_BUILD_DIR "$build_dir/metricsd" serve --listen "127.0.0.1:$port" --data-dir "$demo_dir/data" \
  --log-level warn >"$demo_dir/metricsd.log" 2>&1 &
daemon=$!
sim=""
cleanup() {
  [ -n "$sim" ] && kill -TERM "$sim" 2>/dev/null && wait "$sim" 2>/dev/null
  kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 120); do
  curl -sf "localhost:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$daemon" 2>/dev/null || { cat "$demo_dir/metricsd.log" >&2; exit 1; }
  sleep 0.5
done
curl -sf "localhost:$port/readyz" >/dev/null || { echo "metricsd did not become ready" >&2; exit 1; }

"$build_dir/tools/metricsd-sim" --server "http://127.0.0.1:$port" --nodes "$nodes" \
  --duration "$duration" --token-file "$demo_dir/data/admin.token" &
sim=$!

cat <<MSG
metricsd on http://127.0.0.1:$port with $nodes simulated nodes (log: $demo_dir/metricsd.log).
Token: $demo_dir/data/admin.token. Try, in another terminal:
  curl -s localhost:$port/api/v1/summary
  curl -s 'localhost:$port/api/v1/nodes?status=online&type=generation'
  curl -s 'localhost:$port/api/v1/latest?category=llm'
  curl -s 'localhost:$port/api/v1/query?metric=llm.tokens_per_s&node=sim-gen-0001&from=-15m&step=10s'
Ctrl-C stops the simulator and the daemon (the simulator prints its report).
MSG
wait "$sim" || true
sim=""
