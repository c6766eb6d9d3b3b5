#!/usr/bin/env bash
# The alert benchmark. Two measurements, each on fresh throwaway daemons:
#  1. Notification latency: with RULES alert rules (RULES-1 on the background metrics that
#     never fire, one metric each: thresholds, windowed maxima and cliffs; plus one on probe.v
#     with no `for` and no cooldown) and a webhook receiver, metricsd-alert-load writes RATE samples/s of
#     background load from NODES nodes and PROBES crossing samples/s; it reports commit of
#     the crossing sample -> webhook received (p50/p90/p99/max), and the daemon's CPU per
#     second is read from /proc for the same run without rules.
#  2. Ingest throughput: metricsd-ingest-load at full speed (1000 nodes x 20 fields, as in
#     the peers' benchmark) against a daemon without rules and one with RULES rules on
#     those series, in the order A B B A; the ratio of the means.
#
# Usage: bench/run_alerts.sh
# Environment:
#   METRICSD_BIN=build-bench/metricsd  the daemon (default: the first built under the repo)
#   RATE=100000 NODES=1000 RULES=50 PROBES=5 DURATION=30 WARMUP=5 INGEST_DURATION=20
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
RATE=${RATE:-100000}
NODES=${NODES:-1000}
RULES=${RULES:-50}
PROBES=${PROBES:-5}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
INGEST_DURATION=${INGEST_DURATION:-20}
DATA=/tmp/bench-alerts-mtd
LISTEN=127.0.0.1:18098
RX_PORT=18099

if [ -z "${METRICSD_BIN:-}" ]; then
  for b in build-bench build; do
    [ -x "$REPO/$b/metricsd" ] && { METRICSD_BIN=$REPO/$b/metricsd; break; }
  done
fi
BENCH_DIR=$(dirname "${METRICSD_BIN:-/nonexistent}")/bench
ALERT_LOAD=$BENCH_DIR/metricsd-alert-load
INGEST_LOAD=$BENCH_DIR/metricsd-ingest-load
for b in "${METRICSD_BIN:-}" "$ALERT_LOAD" "$INGEST_LOAD"; do
  if [ ! -x "$b" ]; then
    echo "build first: cmake --build build-bench -j2 --target metricsd metricsd-alert-load metricsd-ingest-load" >&2
    exit 1
  fi
done

pid=""
stop_daemon() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
trap stop_daemon EXIT

start_daemon() {
  stop_daemon
  rm -rf "$DATA"
  env -u METRICSD_TOKEN -u METRICSD_BIN "$METRICSD_BIN" --data-dir "$DATA" --listen "$LISTEN" --log-level warn \
    --auth-mode disabled >"$DATA.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    curl -sf "http://$LISTEN/readyz" >/dev/null && return 0
    sleep 0.5
  done
  echo "the daemon did not become ready; see $DATA.log" >&2
  exit 1
}

post() { curl -sf -H 'Content-Type: application/json' "http://$LISTEN/api/v1/alerts/$1" -d "$2" >/dev/null; }

# RULES-1 rules that never fire, rule i on metric i of `metrics` (cycling), as fleets write
# them (one metric each: the GPU temperature, the disk's free space): a third last-value
# thresholds, a third 5 s max windows, a third 5 s cliffs; then the probe rule.
create_rules() {
  local -a metrics=($1)
  local n=$(( RULES - 1 )) i m
  for i in $(seq 1 "$n"); do
    m=${metrics[$(( i % ${#metrics[@]} ))]}
    case $(( i % 3 )) in
      0) post rules "{\"name\":\"last $i\",\"kind\":\"threshold\",\"metric\":\"$m\",\"levels\":{\"warning\":1e12}}" ;;
      1) post rules "{\"name\":\"max $i\",\"kind\":\"threshold\",\"metric\":\"$m\",\"agg\":\"max\",\"window\":\"5s\",\"levels\":{\"warning\":1e12}}" ;;
      2) post rules "{\"name\":\"cliff $i\",\"kind\":\"cliff\",\"metric\":\"$m\",\"agg\":\"avg\",\"window\":\"5s\",\"levels\":{\"critical\":1000}}" ;;
    esac
  done
  post rules '{"name":"probe","kind":"threshold","metric":"probe.v","levels":{"critical":90},"clear":50,"cooldown":"0s"}'
}

BACKGROUND_METRICS=$(for c in 0 1; do for f in $(seq 0 9); do printf 'cat%s.f%s ' "$c" "$f"; done; done)
PEER_METRICS="node_metrics.cpu_util node_metrics.cpu_temp node_metrics.cpu_power node_metrics.load_1m
  node_metrics.ram_used node_metrics.ram_util node_metrics.swap_used node_metrics.disk_read_mbps
  node_metrics.disk_write_mbps node_metrics.disk_util node_metrics.net_rx_mbps
  node_metrics.net_tx_mbps node_metrics.gpu_util node_metrics.gpu_temp node_metrics.gpu_mem_used
  node_metrics.gpu_mem_util node_metrics.gpu_power node_metrics.gpu_clock_mhz
  node_metrics.fan_speed node_metrics.tokens_per_s"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

echo "== 1. commit -> webhook at $RATE samples/s from $NODES nodes, $RULES rules, $PROBES probes/s"
results=()
for rules in 0 "$RULES"; do
  start_daemon
  post receivers "{\"name\":\"bench\",\"kind\":\"webhook\",\"url\":\"http://127.0.0.1:$RX_PORT/hook\"}"
  [ "$rules" -gt 0 ] && create_rules "$BACKGROUND_METRICS"
  t0=$(cpu_ticks)
  out=$("$ALERT_LOAD" --url "http://$LISTEN" --rate "$RATE" --nodes "$NODES" --categories 2 \
    --fields 10 --probes-per-s "$PROBES" --listen "$RX_PORT" --duration "$DURATION" \
    --warmup "$WARMUP" 2>/dev/null || true)
  t1=$(cpu_ticks)
  cpu=$(python3 -c "print(round(($t1 - $t0) / $(getconf CLK_TCK) / ($DURATION + $WARMUP + 2) * 100))")
  echo "rules=$rules daemon_cpu_pct=$cpu $out"
  results+=("$rules $cpu $out")
  stop_daemon
done

echo "== 2. full-speed ingest, no rules (A) and $RULES rules (B), A B B A"
declare -A rate_sum=([A]=0 [B]=0)
for run in A B B A; do
  start_daemon
  [ "$run" = B ] && create_rules "$PEER_METRICS"
  out=$("$INGEST_LOAD" --url "http://$LISTEN/api/v1/write" --nodes 1000 --fields 20 \
    --connections 2 --duration "$INGEST_DURATION" --warmup 3 2>/dev/null | tail -1)
  r=$(echo "$out" | python3 -c "import json,sys; print(json.loads(sys.stdin.read())['samples_per_s'])" 2>/dev/null || echo 0)
  echo "$run: $r samples/s"
  rate_sum[$run]=$(python3 -c "print(${rate_sum[$run]} + $r)")
  stop_daemon
done
python3 - "${rate_sum[A]}" "${rate_sum[B]}" <<'PY'
import sys
a, b = float(sys.argv[1]) / 2, float(sys.argv[2]) / 2
print(f"no rules {a:,.0f} samples/s, with rules {b:,.0f} samples/s: ratio {b / a:.3f}" if a else "no result")
PY
