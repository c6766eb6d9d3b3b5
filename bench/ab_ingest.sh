#!/usr/bin/env bash
# Same-run A/B of ingest between two metricsd builds (say a release and a change): each run
# starts the build on a fresh data dir (port 18090), drives it with metricsd-ingest-load (the
# peers' workload) for DURATION seconds and stops it; builds alternate A B B A per
# connection count, so drift on a shared machine falls on both. Prints samples/s per run
# and the mean per build.
# Usage: bench/ab_ingest.sh BASE_METRICSD NEW_METRICSD
# Environment: DURATION=20 WARMUP=2 CONNECTIONS="1 2"; LOAD_BIN= default build-bench/ or build/
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
[ $# -eq 2 ] || { echo "usage: $0 BASE_METRICSD NEW_METRICSD" >&2; exit 2; }
declare -A bin=([base]=$1 [new]=$2)
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-1 2}
if [ -z "${LOAD_BIN:-}" ]; then
  for candidate in "$REPO/build-bench/bench/metricsd-ingest-load" "$REPO/build/bench/metricsd-ingest-load"; do
    [ -x "$candidate" ] && { LOAD_BIN=$candidate; break; }
  done
fi
[ -x "${LOAD_BIN:-}" ] || { echo "metricsd-ingest-load not found: scripts/build.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/metricsd-ab.XXXXXX)
chmod 755 "$work"  # the embedded PostgreSQL runs as the postgres user
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

run() {  # build connections -> samples/s
  local name=$1 conns=$2 dir="$work/$1-$2-$RANDOM"
  env -u LOAD_BIN "${bin[$name]}" serve --data-dir "$dir" --listen 127.0.0.1:18090 \
    --log-level warn >"$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    curl -fsS http://127.0.0.1:18090/readyz >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
    sleep 0.1
  done
  "$LOAD_BIN" --url http://127.0.0.1:18090/api/v1/write --connections "$conns" \
    --header "Authorization: Bearer $(cat "$dir/admin.token")" --duration "$DURATION" \
    --warmup "$WARMUP" 2>&1 | sed -n 's/.*"samples_per_s":\([0-9]*\).*/\1/p' | tail -1
  kill "$pid" && wait "$pid" 2>/dev/null || true
  pid=""
  rm -rf "$dir"
}

for conns in $CONNECTIONS; do
  declare -A sum=([base]=0 [new]=0)
  for name in base new new base; do
    rate=$(run "$name" "$conns")
    awk -v n="$name" -v c="$conns" -v r="$rate" \
      'BEGIN {printf "%-4s %s connection(s): %.3f M samples/s\n", n, c, r / 1e6}'
    sum[$name]=$((sum[$name] + rate))
  done
  awk -v c="$conns" -v b="${sum[base]}" -v n="${sum[new]}" \
    'BEGIN {printf "  mean at %s: base %.3f M/s, new %.3f M/s, new/base %.3f\n", c, b / 2e6, n / 2e6, n / b}'
done
