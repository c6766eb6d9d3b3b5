#!/usr/bin/env bash
# Bytes per sample of the random-walk fleet telemetry (bench/telemetry_walk.hpp), metricsd's
# stored block format beside VictoriaMetrics, on the same data in the same run:
#   1. metricsd-storage-codec generates the data, encodes it as sample and rollup blocks
#      (several window lengths), checks every block round-trips, prints bytes per sample by
#      tier, and writes the same samples as line protocol;
#   2. a VictoriaMetrics of its own (temporary data dir, port 18428, retention 100 years so
#      the fixed 2026-01-01 start is kept) takes the lines over /write, is flushed and
#      force-merged, and its whole data directory is measured (du, data + indexdb).
# Usage: bench/run_storage.sh
# Environment:
#   NODES=100 METRICS=20 HOURS=24 INTERVAL_MS=10000 JITTER_MS=0 SEED=1
#   CODEC_BIN=   the tool; default build-bench/ or build/ under the repository
#   VM_BIN=victoria-metrics   (Debian package victoria-metrics)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
NODES=${NODES:-100}
METRICS=${METRICS:-20}
HOURS=${HOURS:-24}
INTERVAL_MS=${INTERVAL_MS:-10000}
JITTER_MS=${JITTER_MS:-0}
SEED=${SEED:-1}
VM_BIN=${VM_BIN:-victoria-metrics}

if [ -z "${CODEC_BIN:-}" ]; then
  for candidate in "$REPO/build-bench/bench/metricsd-storage-codec" "$REPO/build/bench/metricsd-storage-codec"; do
    [ -x "$candidate" ] && { CODEC_BIN=$candidate; break; }
  done
fi
if [ -z "${CODEC_BIN:-}" ] || [ ! -x "$CODEC_BIN" ]; then
  echo "metricsd-storage-codec not found; build it with:" >&2
  echo "  cmake -S $REPO -B $REPO/build-bench -DCMAKE_BUILD_TYPE=Release -DMETRICSD_TESTS=OFF" >&2
  echo "  cmake --build $REPO/build-bench --target metricsd-storage-codec" >&2
  exit 1
fi
command -v "$VM_BIN" >/dev/null || { echo "$VM_BIN not found: apt-get install -y victoria-metrics" >&2; exit 1; }

work=$(mktemp -d /tmp/metricsd-storage.XXXXXX)
vm_pid=""
cleanup() {
  [ -n "$vm_pid" ] && kill "$vm_pid" 2>/dev/null && wait "$vm_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "== metricsd block format"
"$CODEC_BIN" --nodes "$NODES" --metrics "$METRICS" --hours "$HOURS" --interval-ms "$INTERVAL_MS" \
  --jitter-ms "$JITTER_MS" --seed "$SEED" --lines "$work/lines.txt" | tee "$work/codec.txt"
samples=$(sed -n 's/.*: \([0-9]*\) samples$/\1/p' "$work/codec.txt")

echo "== VictoriaMetrics ($("$VM_BIN" -version 2>&1 | head -1))"
"$VM_BIN" -storageDataPath="$work/vm" -httpListenAddr=127.0.0.1:18428 -retentionPeriod=100y \
  >"$work/vm.log" 2>&1 &
vm_pid=$!
for _ in $(seq 100); do
  curl -fsS http://127.0.0.1:18428/health >/dev/null 2>&1 && break
  sleep 0.1
done
split -l 500000 "$work/lines.txt" "$work/part-"
rm "$work/lines.txt"
for f in "$work"/part-*; do
  curl -fsS --data-binary @"$f" 'http://127.0.0.1:18428/write?precision=ms'
  rm "$f"
done
curl -fsS http://127.0.0.1:18428/internal/force_flush
# Every sample searchable, then one merge of the month's partition, waited for.
for _ in $(seq 600); do
  got=$(curl -fsS http://127.0.0.1:18428/metrics | sed -n 's/^vm_rows{type="storage\/\(small\|big\)"} //p' |
        awk '{s += $1} END {print s + 0}')
  [ "$got" -ge "$samples" ] && break
  sleep 0.5
done
curl -fsS 'http://127.0.0.1:18428/internal/force_merge?partition_prefix=' >/dev/null
for _ in $(seq 600); do
  grep -q 'forced merge for partition_prefix=.* has been successfully finished' "$work/vm.log" && break
  sleep 0.5
done
kill "$vm_pid" && wait "$vm_pid" 2>/dev/null || true
vm_pid=""
vm_bytes=$(du -sb "$work/vm/data" "$work/vm/indexdb" | awk '{s += $1} END {print s}')
awk -v b="$vm_bytes" -v n="$samples" \
  'BEGIN {printf "VictoriaMetrics, data + indexdb: %.3f B/sample (%d bytes, %d samples)\n", b / n, b, n}'
