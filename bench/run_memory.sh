#!/usr/bin/env bash
# Memory of metricsd (the daemon and its embedded PostgreSQL: the whole process tree) and of
# VictoriaMetrics under the peers' ingest workload (PEERS.md: 1000 nodes x 20 metrics, 20 000
# active series), in the same run, one system at a time on a fresh data dir:
#   - PSS of the process tree (/proc/PID/smaps_rollup, summed over the tree: pages shared
#     between PostgreSQL's processes count once), sampled every second while
#     metricsd-ingest-load runs at CONNECTIONS connections for DURATION seconds, then for
#     SETTLE seconds after it stops;
#   - printed: samples/s, peak PSS (during the load and the settling: compaction goes on
#     after the load), PSS at the load's end and after settling, and the peak per active
#     series.
# Usage: bench/run_memory.sh
# Environment:
#   DURATION=60 SETTLE=30 CONNECTIONS=2 NODES=1000 FIELDS=20
#   METRICSD_ARGS=  more flags for metricsd serve (e.g. "--ingest-max-head-samples 5000000")
#   LOAD_BIN= METRICSD_BIN=   default build-bench/ or build/ under the repository
#   VM_BIN=victoria-metrics   (Debian package victoria-metrics); SYSTEMS="metricsd vm"
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
DURATION=${DURATION:-60}
SETTLE=${SETTLE:-30}
CONNECTIONS=${CONNECTIONS:-2}
NODES=${NODES:-1000}
FIELDS=${FIELDS:-20}
SYSTEMS=${SYSTEMS:-metricsd vm}
METRICSD_ARGS=${METRICSD_ARGS:-}
VM_BIN=${VM_BIN:-victoria-metrics}
for tool in LOAD_BIN:bench/metricsd-ingest-load METRICSD_BIN:metricsd; do
  var=${tool%%:*}
  if [ -z "${!var:-}" ]; then
    for candidate in "$REPO/build-bench/${tool#*:}" "$REPO/build/${tool#*:}"; do
      [ -x "$candidate" ] && { printf -v "$var" '%s' "$candidate"; break; }
    done
  fi
  [ -x "${!var:-}" ] || { echo "${tool#*:} not found: METRICSD_BUILD_TYPE=Release scripts/build.sh" >&2; exit 1; }
done
series=$((NODES * FIELDS))

work=$(mktemp -d /tmp/metricsd-memory.XXXXXX)
chmod 755 "$work"  # the embedded PostgreSQL runs as the postgres user
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# PSS in kB of a process and all its descendants.
pss_tree() {
  local pids=("$1") i=0
  while [ $i -lt ${#pids[@]} ]; do
    for c in $(cat /proc/"${pids[$i]}"/task/*/children 2>/dev/null); do pids+=("$c"); done
    i=$((i + 1))
  done
  for p in "${pids[@]}"; do
    sed -n 's/^Pss: *\([0-9]*\) kB/\1/p' /proc/"$p"/smaps_rollup 2>/dev/null
  done | awk '{s += $1} END {print s + 0}'
}
wait_http() {
  for _ in $(seq 600); do
    curl -fsS "$1" >/dev/null 2>&1 && return
    kill -0 "$pid" 2>/dev/null || { cat "$work/$2.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$2 did not start" >&2
  exit 1
}
# Runs the load against URL while sampling the tree's PSS; prints the report line.
measure() {
  local name=$1 url=$2 header=$3 peak=0 kb
  "$LOAD_BIN" --url "$url" ${header:+--header "$header"} --connections "$CONNECTIONS" \
    --nodes "$NODES" --fields "$FIELDS" --duration "$DURATION" >"$work/$name.load" 2>&1 &
  local load=$!
  while kill -0 "$load" 2>/dev/null; do
    kb=$(pss_tree "$pid")
    [ "$kb" -gt "$peak" ] && peak=$kb
    sleep 1
  done
  wait "$load" || { cat "$work/$name.load" >&2; exit 1; }
  local at_end settled
  at_end=$(pss_tree "$pid")
  for _ in $(seq "$SETTLE"); do
    kb=$(pss_tree "$pid")
    [ "$kb" -gt "$peak" ] && peak=$kb
    sleep 1
  done
  settled=$(pss_tree "$pid")
  local rate
  rate=$(sed -n 's/.*"samples_per_s":\([0-9.e+]*\).*/\1/p' "$work/$name.load" | tail -1)
  awk -v n="$name" -v r="$rate" -v p="$peak" -v e="$at_end" -v s="$settled" -v k="$series" \
    'BEGIN {printf "%-16s %7.2f M/s   peak %5.0f MB   end of load %5.0f MB   after %ss %5.0f MB   peak per series %5.1f kB\n",
            n, r / 1e6, p / 1024, e / 1024, ENVIRON["SETTLE"], s / 1024, p / k}'
}
export SETTLE

echo "== PSS of the whole process tree, $series active series, $CONNECTIONS connections, ${DURATION}s"
for system in $SYSTEMS; do
  case $system in
    metricsd)
      # The daemon refuses METRICSD_* variables it does not know: not these of the script.
      # shellcheck disable=SC2086
      env -u METRICSD_BIN -u METRICSD_ARGS "$METRICSD_BIN" serve --listen 127.0.0.1:18081 \
        --data-dir "$work/md" $METRICSD_ARGS >"$work/metricsd.log" 2>&1 &
      pid=$!
      wait_http http://127.0.0.1:18081/readyz metricsd
      measure metricsd http://127.0.0.1:18081/api/v1/write \
        "Authorization: Bearer $(cat "$work/md/admin.token")"
      ;;
    vm)
      "$VM_BIN" -storageDataPath="$work/vm" -httpListenAddr=127.0.0.1:18429 -retentionPeriod=100y \
        >"$work/vm.log" 2>&1 &
      pid=$!
      wait_http http://127.0.0.1:18429/health vm
      measure VictoriaMetrics http://127.0.0.1:18429/write ""
      ;;
  esac
  kill "$pid" && wait "$pid" 2>/dev/null || true
  pid=""
done
