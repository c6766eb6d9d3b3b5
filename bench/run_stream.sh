#!/usr/bin/env bash
# The live-stream benchmark: for each point (subscribers x stream.flush_ms) starts a fresh
# throwaway metricsd, runs metricsd-stream-load against it (ingest at RATE samples/s by
# POST /api/v1/write, subscribers each on one of CATEGORIES categories), stops it, and
# prints one line per point plus a table of delivery latency and throughput.
#
# All clients come from 127.0.0.1 with the daemon's admin token, so the per-address
# connection and rate limits are raised for the run.
#
# Usage: bench/run_stream.sh
# Environment:
#   METRICSD_BIN=build-stream/metricsd   the daemon (default: the first built under the repo)
#   LOAD_BIN=                            metricsd-stream-load (default: beside the daemon)
#   POINTS="100:100 1000:100 1000:50"    subscribers:flush_ms per point
#   RATE=100000 CATEGORIES=100 DURATION=20 WARMUP=3 THREADS=1
#   RESULTS=                             file for the JSON lines (default: new file under /tmp)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
POINTS=${POINTS:-100:100 1000:100 1000:50}
RATE=${RATE:-100000}
CATEGORIES=${CATEGORIES:-100}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-1}
RESULTS=${RESULTS:-$(mktemp /tmp/stream_bench.XXXXXX.jsonl)}
DATA=/tmp/bench-stream-mtd
LISTEN=127.0.0.1:18097

if [ -z "${METRICSD_BIN:-}" ]; then
  for b in build-stream build-bench build; do
    [ -x "$REPO/$b/metricsd" ] && { METRICSD_BIN=$REPO/$b/metricsd; break; }
  done
fi
LOAD_BIN=${LOAD_BIN:-$(dirname "${METRICSD_BIN:-/nonexistent}")/bench/metricsd-stream-load}
if [ ! -x "${METRICSD_BIN:-}" ] || [ ! -x "$LOAD_BIN" ]; then
  echo "build first: cmake --build build-stream -j2 --target metricsd metricsd-stream-load" >&2
  exit 1
fi

pid=""
stop_daemon() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
trap stop_daemon EXIT

: >"$RESULTS"
for point in $POINTS; do
  subs=${point%%:*}
  flush=${point##*:}
  rm -rf "$DATA"
  "$METRICSD_BIN" --data-dir "$DATA" --listen "$LISTEN" --log-level warn \
    --stream-flush-ms "${flush}ms" --stream-max-clients 20000 --http-max-connections 20000 \
    --http-max-connections-per-addr 20000 --rate-limit-per-addr-rps 100000 \
    >"$DATA.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    curl -sf "http://$LISTEN/readyz" >/dev/null && break
    sleep 0.5
  done
  token=$(cat "$DATA/admin.token" 2>/dev/null || true)
  echo "== $subs subscribers, stream.flush_ms=$flush, $RATE samples/s over $CATEGORIES categories"
  out=$("$LOAD_BIN" --url "http://$LISTEN" --subscribers "$subs" --categories "$CATEGORIES" \
    --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" --threads "$THREADS" \
    ${token:+--token "$token"} 2>/dev/null)
  echo "$out" | head -1
  echo "$out" | tail -1 | sed "s/^{/{\"flush_ms\":$flush,/" >>"$RESULTS"
  stop_daemon
done

echo
echo "| subscribers | flush_ms | ingest samples/s | messages/s | samples/s delivered | commit->receipt p50 / p99 ms (per message) | send->receipt p50 / p99 ms (per sample) | dropped |"
echo "|---|---|---|---|---|---|---|---|"
python3 - "$RESULTS" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"| {r['subscribers']} | {r['flush_ms']} | {r['ingest_samples_per_s']:.0f} | "
          f"{r['messages_per_s']:.0f} | {r['samples_per_s']:.0f} | "
          f"{r['commit_to_receipt_ms']['p50']} / {r['commit_to_receipt_ms']['p99']} | "
          f"{r['send_to_receipt_ms']['p50']} / {r['send_to_receipt_ms']['p99']} | "
          f"{r['dropped_samples']} |")
PY
echo "(JSON lines in $RESULTS)"
