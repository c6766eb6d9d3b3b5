#!/usr/bin/env bash
# Runs metricsd-ingest-load with the same flags against VictoriaMetrics, InfluxDB and, if a URL
# is given, metricsd, at 1/2/4 connections; prints samples/s (p50/p99 latency) per system and
# the ratios metricsd/InfluxDB and metricsd/VictoriaMetrics. Peers are started one at a time
# via the peers' servers.sh and stopped again (only those this script started).
#
# Usage: bench/run_ingest_peers.sh [METRICSD_URL]
#   e.g. bench/run_ingest_peers.sh http://127.0.0.1:8080/api/v1/write
# Environment:
#   DURATION=20        measured seconds per run (the tool caps it at 600)
#   WARMUP=2           warm-up seconds per run
#   CONNECTIONS="1 2 4"
#   SYSTEMS="vm influx" peers to run (metricsd is added when a URL is given)
#   METRICSD_FORMAT=lp  lp, or json for a .../api/v1/metrics URL (peers always get lp)
#   METRICSD_HEADER=    one extra header for metricsd, e.g. "Authorization: Bearer X"
#   EXTRA_ARGS=         more flags for every run, e.g. "--samples-per-request 50000"
#   FRESH=0            1: wipe each peer's data before its runs (servers.sh fresh)
#   LOAD_BIN=          the tool; default build-bench/ or build/ under the repository
#   SERVERS=/work/shared/peers/servers.sh
#   RESULTS=           file for the tool's JSON lines; default a new file under /tmp
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
METRICSD_URL=${1:-}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-1 2 4}
SYSTEMS=${SYSTEMS:-vm influx}
METRICSD_FORMAT=${METRICSD_FORMAT:-lp}
METRICSD_HEADER=${METRICSD_HEADER:-}
EXTRA_ARGS=${EXTRA_ARGS:-}
FRESH=${FRESH:-0}
SERVERS=${SERVERS:-/work/shared/peers/servers.sh}
RESULTS=${RESULTS:-$(mktemp /tmp/ingest_peers.XXXXXX.jsonl)}

if [ -z "${LOAD_BIN:-}" ]; then
  for candidate in "$REPO/build-bench/bench/metricsd-ingest-load" "$REPO/build/bench/metricsd-ingest-load"; do
    [ -x "$candidate" ] && { LOAD_BIN=$candidate; break; }
  done
fi
if [ -z "${LOAD_BIN:-}" ] || [ ! -x "$LOAD_BIN" ]; then
  echo "metricsd-ingest-load not found; build it with:" >&2
  echo "  cmake -S $REPO -B $REPO/build-bench -DCMAKE_BUILD_TYPE=Release -DMETRICSD_TESTS=OFF" >&2
  echo "  cmake --build $REPO/build-bench --target metricsd-ingest-load" >&2
  exit 1
fi

url_of() {
  case $1 in
    vm) echo "http://127.0.0.1:8428/write" ;;
    influx) echo "http://127.0.0.1:8086/write?db=bench" ;;
    metricsd) echo "$METRICSD_URL" ;;
  esac
}
health_of() {
  case $1 in
    vm) echo "http://127.0.0.1:8428/health" ;;
    influx) echo "http://127.0.0.1:8086/ping" ;;
  esac
}
label_of() {
  case $1 in
    vm) echo "VictoriaMetrics" ;;
    influx) echo "InfluxDB" ;;
    metricsd) echo "metricsd" ;;
  esac
}

STARTED=()
stop_started() {
  for name in "${STARTED[@]}"; do "$SERVERS" stop "$name" || true; done
  STARTED=()
}
trap stop_started EXIT

# Starts a peer unless it already answers; returns 1 (with advice) if it cannot.
ensure_peer() {
  local name=$1
  if curl -s -o /dev/null -m 1 "$(health_of "$name")"; then
    if [ "$FRESH" = 1 ]; then
      echo "$(label_of "$name") is already running (not started here): not wiping it" >&2
    fi
    return 0
  fi
  if [ ! -x "$SERVERS" ]; then
    echo "$SERVERS not found; install and start the peers by hand:" >&2
    echo "  apt-get install -y victoria-metrics influxdb" >&2
    echo "  victoria-metrics -storageDataPath=/tmp/peers/vm/data -httpListenAddr=127.0.0.1:8428" >&2
    echo "  influxd (wal-fsync-delay = \"0s\", index-version = \"inmem\"), then" >&2
    echo "  curl -XPOST http://127.0.0.1:8086/query --data-urlencode 'q=CREATE DATABASE bench'" >&2
    return 1
  fi
  if [ "$FRESH" = 1 ]; then "$SERVERS" fresh "$name"; else "$SERVERS" start "$name"; fi
  STARTED+=("$name")
}

declare -A RATE P50 P99
json_number() {  # key, json line
  sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2"
}

run_system() {
  local name=$1 url; url=$(url_of "$name")
  local args=(--url "$url" --duration "$DURATION" --warmup "$WARMUP")
  if [ "$name" = metricsd ]; then
    args+=(--format "$METRICSD_FORMAT")
    if [ -n "$METRICSD_HEADER" ]; then args+=(--header "$METRICSD_HEADER"); fi
  fi
  for c in $CONNECTIONS; do
    echo "== $(label_of "$name"), $c connection(s), ${DURATION} s" >&2
    local out
    # shellcheck disable=SC2086  # EXTRA_ARGS is a list of flags
    out=$("$LOAD_BIN" "${args[@]}" --connections "$c" $EXTRA_ARGS) || true
    echo "$out" >&2
    local line; line=$(grep '^{' <<<"$out" | tail -1 || true)
    [ -n "$line" ] || continue
    echo "$line" >>"$RESULTS"
    RATE[$name,$c]=$(json_number samples_per_s "$line")
    P50[$name,$c]=$(json_number p50 "$line")
    P99[$name,$c]=$(json_number p99 "$line")
  done
}

RUN_SYSTEMS=()
for name in $SYSTEMS; do
  if ensure_peer "$name"; then
    run_system "$name"
    RUN_SYSTEMS+=("$name")
  fi
  stop_started
done
if [ -n "$METRICSD_URL" ]; then
  run_system metricsd
  RUN_SYSTEMS+=(metricsd)
fi

millions() { awk -v v="$1" 'BEGIN { printf "%.2f M", v / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

echo
echo "samples/s accepted (p50 / p99 ms), ${DURATION} s per run after ${WARMUP} s warm-up${EXTRA_ARGS:+, $EXTRA_ARGS}"
printf "%-17s" "system"
for c in $CONNECTIONS; do printf " | %-26s" "$c conn"; done
echo
for name in "${RUN_SYSTEMS[@]}"; do
  printf "%-17s" "$(label_of "$name")"
  for c in $CONNECTIONS; do
    if [ -n "${RATE[$name,$c]:-}" ]; then
      printf " | %-26s" "$(millions "${RATE[$name,$c]}") (${P50[$name,$c]} / ${P99[$name,$c]})"
    else
      printf " | %-26s" "failed"
    fi
  done
  echo
done
if [ -n "$METRICSD_URL" ]; then
  for peer in influx vm; do
    if [ "$peer" = vm ]; then printf "%-17s" "metricsd/VM"; else printf "%-17s" "metricsd/InfluxDB"; fi
    for c in $CONNECTIONS; do
      printf " | %-26s" "$(ratio "${RATE[metricsd,$c]:-0}" "${RATE[$peer,$c]:-0}")"
    done
    echo
  done
fi
echo "JSON lines: $RESULTS"
