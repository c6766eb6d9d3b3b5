#!/usr/bin/env bash
# The peers' query benchmark (PEERS.md "Query figures") in one run: the same data set (24 h at
# 10 s for 100 nodes x 20 metrics, ending now) is written to VictoriaMetrics, InfluxDB and
# metricsd, each is left to settle (peers: until their CPU is idle; metricsd: 15 s, then until
# metricsd_head_samples shows compaction has moved the closed windows into chunks and rollups;
# all: until both answers match the data set, VictoriaMetrics also until the data's end is older
# than its 30 s -search.latencyOffset), then metricsd-query-load times two queries 20 times each
# (after 3 warm-up runs) and checks every answer against the data set. Prints p50 (p99) ms per
# query and system and the ratio metricsd / faster peer. Systems run one after the other, so
# they do not compete for the two cores.
#
# Usage: bench/run_query_peers.sh [METRICSD_BASE_URL]
#   e.g. bench/run_query_peers.sh http://127.0.0.1:8080   (its data should hold no node_metrics.*)
#   Without a URL a throwaway metricsd is started from $METRICSD_BIN on 127.0.0.1:18095 with
#   its data in /tmp/bench-query-mtd (wiped first) and stopped at the end.
# Environment:
#   METRICSD_BIN=/work/main/build/metricsd   the daemon for the throwaway instance
#   METRICSD_HEADER=    one extra header for metricsd, e.g. "Authorization: Bearer X"
#   SYSTEMS="vm influx" peers to run, "" for none (each restarted fresh with servers.sh, then stopped)
#   RUNS=20 WARMUP=3    measured and warm-up runs per query
#   NODES=100 HOURS=24  the data set's nodes (x 20 fields) and span; the PEERS.md figures
#                       use the defaults, the whole-category latest over 1000 nodes NODES=1000 HOURS=1
#   CONNECTIONS=3       connections while loading
#   METRICSD_SETTLE=15  seconds metricsd is given after the load before its head is checked
#   SETTLE_MAX=180      at most this long for any system to settle
#   QUERY_BIN=          the tool; default build-qbench/, build-bench/ or build/ under the repo
#   SERVERS=/work/shared/peers/servers.sh
#   RESULTS=            file for the tool's JSON lines; default a new file under /tmp
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
METRICSD_URL=${1:-}
METRICSD_URL=${METRICSD_URL%/}
METRICSD_BIN=${METRICSD_BIN:-/work/main/build/metricsd}
METRICSD_HEADER=${METRICSD_HEADER:-}
METRICSD_DATA=/tmp/bench-query-mtd
METRICSD_LISTEN=127.0.0.1:18095
SYSTEMS=${SYSTEMS-vm influx}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-3}
NODES=${NODES:-100}
HOURS=${HOURS:-24}
METRICSD_SETTLE=${METRICSD_SETTLE:-15}
SETTLE_MAX=${SETTLE_MAX:-180}
SERVERS=${SERVERS:-/work/shared/peers/servers.sh}
RESULTS=${RESULTS:-$(mktemp /tmp/query_peers.XXXXXX.jsonl)}
# The data set: 100 nodes x 20 fields; the head of a settled metricsd holds at most the open
# 10-minute windows plus the compaction grace: 2000 series x ~21 min x 6 samples.
HEAD_SETTLED=$((${NODES:-100} * 20 * 150))

if [ -z "${QUERY_BIN:-}" ]; then
  for candidate in "$REPO"/build-qbench/bench/metricsd-query-load \
    "$REPO"/build-bench/bench/metricsd-query-load "$REPO"/build/bench/metricsd-query-load; do
    [ -x "$candidate" ] && { QUERY_BIN=$candidate; break; }
  done
fi
if [ -z "${QUERY_BIN:-}" ] || [ ! -x "$QUERY_BIN" ]; then
  echo "metricsd-query-load not found; build it with:" >&2
  echo "  cmake -S $REPO -B $REPO/build-qbench -DCMAKE_BUILD_TYPE=Release -DMETRICSD_TESTS=OFF" >&2
  echo "  cmake --build $REPO/build-qbench -j2 --target metricsd metricsd-query-load" >&2
  exit 1
fi
if [ ! -x "$SERVERS" ]; then
  echo "$SERVERS not found; install the peers (apt-get install -y victoria-metrics influxdb)" >&2
  echo "and point SERVERS= at a servers.sh like /work/shared/peers/servers.sh" >&2
  exit 1
fi

# One end for every system: the data lies in [END - HOURS, END), END = now rounded down to a minute.
END_MS=$(($(date +%s) / 60 * 60 * 1000))
T0=$(date +%s)

label_of() {
  case $1 in
    vm) echo "VictoriaMetrics" ;;
    vm-nocache) echo "VM nocache=1" ;;
    influx) echo "InfluxDB" ;;
    metricsd) echo "metricsd" ;;
    metricsd-nocache) echo "metricsd cache_mb=0" ;;
  esac
}
base_of() {
  case $1 in
    vm) echo "http://127.0.0.1:8428" ;;
    influx) echo "http://127.0.0.1:8086" ;;
    metricsd | metricsd-nocache) echo "${METRICSD_URL:-http://$METRICSD_LISTEN}" ;;
  esac
}
write_url_of() {
  case $1 in
    vm) echo "http://127.0.0.1:8428/write?precision=ms" ;;
    influx) echo "http://127.0.0.1:8086/write?db=bench&precision=ms" ;;
    metricsd) echo "$(base_of metricsd)/api/v1/write?precision=ms" ;;
  esac
}
health_of() {
  case $1 in
    vm) echo "http://127.0.0.1:8428/health" ;;
    influx) echo "http://127.0.0.1:8086/ping" ;;
  esac
}

# The throwaway metricsd on $METRICSD_DATA; extra environment (e.g. METRICSD_QUERY_CACHE_MB=0)
# in its arguments.
start_metricsd() {
  echo "== starting a throwaway metricsd ($METRICSD_BIN) on $METRICSD_LISTEN, data in $METRICSD_DATA $*" >&2
  # metricsd reads METRICSD_<SECTION>_<KEY> settings from the environment and refuses unknown
  # ones: this script's own METRICSD_* variables must not reach it.
  env -u METRICSD_BIN -u METRICSD_HEADER -u METRICSD_SETTLE "$@" \
    "$METRICSD_BIN" --data-dir "$METRICSD_DATA" --listen "$METRICSD_LISTEN" --log-level warn \
    >>"$METRICSD_DATA.log" 2>&1 &
  MTD_PID=$!
  for _ in $(seq 1 240); do
    curl -s -m 1 "http://$METRICSD_LISTEN/readyz" | grep -q '"ready"' && return 0
    kill -0 "$MTD_PID" 2>/dev/null || { echo "metricsd exited; see $METRICSD_DATA.log" >&2; exit 1; }
    sleep 0.5
  done
}

STARTED=()         # peers this script started: stopped at the end
MTD_PID=""         # the throwaway metricsd, if any
stop_metricsd() {
  [ -n "$MTD_PID" ] || return 0
  kill -TERM "$MTD_PID" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$MTD_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$MTD_PID" 2>/dev/null && { echo "metricsd ($MTD_PID) still alive, SIGKILL" >&2; kill -KILL "$MTD_PID" || true; }
  MTD_PID=""
}
cleanup() {
  for name in "${STARTED[@]}"; do "$SERVERS" stop "$name" || true; done
  STARTED=()
  stop_metricsd
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() {  # pid -> user + system clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
# Waits until pid used < 5 % of a core for a whole second (at least 2 s, at most SETTLE_MAX).
wait_idle() {  # pid label
  local pid=$1 t=0 prev now
  prev=$(cpu_ticks "$pid")
  while [ $t -lt "$SETTLE_MAX" ]; do
    sleep 1
    t=$((t + 1))
    now=$(cpu_ticks "$pid")
    if [ $t -ge 2 ] && [ $((now - prev)) -le 5 ]; then break; fi
    prev=$now
  done
  echo "== $2 settled: idle after ${t} s" >&2
}
head_samples() {
  curl -s -m 5 "$(base_of metricsd)/metrics" | sed -n 's/^metricsd_head_samples \([0-9.e+]*\)$/\1/p' |
    awk '{printf "%d", $1}'
}
# metricsd: METRICSD_SETTLE s, then until the head holds only the open windows.
settle_metricsd() {
  local t=0 h
  echo "== metricsd: head $(head_samples) samples after the load; waiting ${METRICSD_SETTLE} s" >&2
  sleep "$METRICSD_SETTLE"
  t=$METRICSD_SETTLE
  while :; do
    h=$(head_samples)
    echo "   +${t} s: metricsd_head_samples ${h:-?}" >&2
    if [ -n "$h" ] && [ "$h" -le "$HEAD_SETTLED" ]; then break; fi
    if [ "$t" -ge "$SETTLE_MAX" ]; then echo "   (still compacting after ${t} s; querying anyway)" >&2; break; fi
    sleep 3
    t=$((t + 3))
  done
}

declare -A P50 P99 POINTS OK LOAD_RATE LOAD_S
json_field() {  # key, json line
  sed -n "s/.*\"$1\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" <<<"$2" | tr -d '"'
}

load() {  # system
  local name=$1 out line
  local args=(--load "$(write_url_of "$name")" --end-ms "$END_MS" --connections "$CONNECTIONS"
    --nodes "$NODES" --hours "$HOURS")
  [ "$name" = metricsd ] && [ -n "$METRICSD_HEADER" ] && args+=(--header "$METRICSD_HEADER")
  echo "== $(label_of "$name"): loading" >&2
  out=$(timeout 300 "$QUERY_BIN" "${args[@]}") || true
  echo "$out" >&2
  line=$(grep '^{' <<<"$out" | tail -1 || true)
  [ -n "$line" ] || return 0
  echo "$line" >>"$RESULTS"
  LOAD_RATE[$name]=$(json_field samples_per_s "$line")
  LOAD_S[$name]=$(json_field seconds "$line")
}

query() {  # system [extra flags]
  local name=$1 out line label q
  shift
  local args=(--query "$name" --url "$(base_of "$name")" --end-ms "$END_MS" --runs "$RUNS"
    --warmup "$WARMUP" --settle "$SETTLE_MAX" --nodes "$NODES" --hours "$HOURS" "$@")
  [ "$name" = metricsd ] && [ -n "$METRICSD_HEADER" ] && args+=(--header "$METRICSD_HEADER")
  out=$(timeout 300 "$QUERY_BIN" "${args[@]}") || true
  echo "$out" >&2
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    echo "$line" >>"$RESULTS"
    label=$(json_field system "$line")
    q=$(json_field query "$line")
    P50[$label,$q]=$(json_field p50_ms "$line")
    P99[$label,$q]=$(json_field p99_ms "$line")
    if [ "$q" = range_1m ] || [ "$q" = latest_category ]; then
      POINTS[$label,$q]="$(json_field points "$line") pts"
    else
      POINTS[$label,$q]="$(json_field nodes "$line") nodes"
    fi
    OK[$label,$q]=$(json_field ok "$line")
  done < <(grep '^{' <<<"$out" || true)
}

RUN=()
for name in $SYSTEMS; do
  if curl -s -o /dev/null -m 1 "$(health_of "$name")"; then
    echo "== $(label_of "$name") was already running: restarting it fresh (its data is wiped) and leaving it running" >&2
  else
    STARTED+=("$name")
  fi
  "$SERVERS" fresh "$name" >&2
  load "$name"
  wait_idle "$("$SERVERS" pid "$name")" "$(label_of "$name")"
  query "$name"
  RUN+=("$name")
  if [ "$name" = vm ]; then
    query vm --vm-nocache
    RUN+=(vm-nocache)
  fi
  if [[ " ${STARTED[*]} " == *" $name "* ]]; then
    "$SERVERS" stop "$name" || true
    rest=()
    for s in "${STARTED[@]}"; do [ "$s" = "$name" ] || rest+=("$s"); done
    STARTED=("${rest[@]}")
  fi
done

if [ -z "$METRICSD_URL" ]; then
  if [ ! -x "$METRICSD_BIN" ]; then
    echo "METRICSD_BIN=$METRICSD_BIN is not executable; build it or pass a metricsd URL" >&2
    exit 1
  fi
  rm -rf "$METRICSD_DATA"
  : >"$METRICSD_DATA.log"
  start_metricsd
  # The throwaway daemon's first admin token authorizes the load.
  if [ -z "$METRICSD_HEADER" ] && [ -s "$METRICSD_DATA/admin.token" ]; then
    METRICSD_HEADER="Authorization: Bearer $(cat "$METRICSD_DATA/admin.token")"
  fi
fi
if curl -s -m 2 "$(base_of metricsd)/readyz" | grep -q '"ready"'; then
  load metricsd
  settle_metricsd
  query metricsd
  RUN+=(metricsd)
  echo "== metricsd tiers that answered (metricsd_query_tier_total), cached days used:" >&2
  curl -s "$(base_of metricsd)/metrics" | grep -E '^metricsd_query_(tier|cache)_total' >&2 || true
  # The same daemon and data without the rollup day cache: every range query reads PostgreSQL.
  if [ -n "$MTD_PID" ]; then
    stop_metricsd
    start_metricsd METRICSD_QUERY_CACHE_MB=0
    query metricsd --label metricsd-nocache
    RUN+=(metricsd-nocache)
  fi
else
  echo "metricsd at $(base_of metricsd) is not ready; skipping it" >&2
fi
stop_metricsd

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "-" }'; }
cell() {  # label query
  if [ -n "${P50[$1,$2]:-}" ]; then
    local flag=""
    [ "${OK[$1,$2]}" = true ] || flag=" WRONG"
    printf "%s (%s)%s" "${P50[$1,$2]}" "${P99[$1,$2]}" "$flag"
  else
    printf "failed"
  fi
}

echo
echo "Query latency, client-side p50 (p99) ms of $RUNS runs after $WARMUP warm-up; data [$((END_MS - HOURS * 3600000)), $END_MS) ms, $NODES nodes x 20 metrics"
printf "%-38s" "query"
for s in "${RUN[@]}"; do printf " | %-17s" "$(label_of "$s")"; done
printf " | %s\n" "metricsd / faster peer (p50)"
for q in range_1m latest latest_category; do
  case $q in
    range_1m) printf "%-38s" "one series, ${HOURS} h, 1-minute averages" ;;
    latest) printf "%-38s" "latest of one metric on $NODES nodes" ;;
    latest_category) printf "%-38s" "latest of 20 metrics on $NODES nodes" ;;
  esac
  best="" best_name=""
  for s in "${RUN[@]}"; do
    printf " | %-17s" "$(cell "$s" "$q")"
    case $s in vm | influx)
      v=${P50[$s,$q]:-}
      if [ -n "$v" ] && { [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN { exit !(a < b) }'; }; then
        best=$v best_name=$(label_of "$s")
      fi
      ;;
    esac
  done
  if [ -n "${P50[metricsd,$q]:-}" ] && [ -n "$best" ]; then
    printf " | %s (vs %s)\n" "$(ratio "${P50[metricsd,$q]}" "$best")" "$best_name"
  else
    printf " | -\n"
  fi
done
printf "%-38s" "answers (range / latest / category)"
for s in "${RUN[@]}"; do printf " | %-17s" "${POINTS[$s,range_1m]:-?} / ${POINTS[$s,latest]:-?} / ${POINTS[$s,latest_category]:-?}"; done
echo
printf "%-38s" "load (samples/s, s)"
for s in "${RUN[@]}"; do
  if [ -n "${LOAD_RATE[$s]:-}" ]; then
    printf " | %-17s" "$(awk -v r="${LOAD_RATE[$s]}" 'BEGIN { printf "%.2f M", r / 1e6 }'), ${LOAD_S[$s]} s"
  else
    printf " | %-17s" "-"
  fi
done
echo
echo "(VM nocache=1 is VictoriaMetrics with its rollup result cache bypassed; metricsd cache_mb=0 is"
echo " metricsd without its rollup day cache, every range query read from PostgreSQL; ratios use the defaults.)"
echo "whole run $(($(date +%s) - T0)) s; JSON lines: $RESULTS"
