#!/usr/bin/env bash
# Bytes per sample of the random-walk fleet telemetry (bench/telemetry_walk.hpp) at rest in
# metricsd (its PostgreSQL, by tier) beside VictoriaMetrics, on the same data in the same run:
#   1. metricsd-storage-codec generates the data, encodes it as sample and rollup blocks
#      (several window lengths), checks every block round-trips, prints bytes per sample by
#      tier, and writes the same samples as line protocol;
#   2. a metricsd of its own (temporary data dir, port 18080) takes the lines over
#      /api/v1/write; once compaction has emptied the inbox and the closed day's blocks are
#      merged, the block tables are VACUUM FULLed and measured by tier
#      (pg_total_relation_size: rows, indexes, TOAST), with the series table beside them;
#   3. a VictoriaMetrics of its own (temporary data dir, port 18428) takes the same lines
#      over /write, is flushed and force-merged, and its whole data directory is measured
#      (du, data + indexdb).
# The data is yesterday (UTC), a closed day within every default retention.
# Usage: bench/run_storage.sh
# Environment:
#   NODES=100 METRICS=20 HOURS=24 INTERVAL_MS=10000 JITTER_MS=0 SEED=1
#   CODEC_BIN=   the tool; default build-bench/ or build/ under the repository
#   METRICSD_BIN= the daemon; default build-bench/ or build/ under the repository
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
if [ -z "${METRICSD_BIN:-}" ]; then
  for candidate in "$REPO/build-bench/metricsd" "$REPO/build/metricsd"; do
    [ -x "$candidate" ] && { METRICSD_BIN=$candidate; break; }
  done
fi
[ -x "${METRICSD_BIN:-}" ] || { echo "metricsd not found: scripts/build.sh" >&2; exit 1; }
command -v "$VM_BIN" >/dev/null || { echo "$VM_BIN not found: apt-get install -y victoria-metrics" >&2; exit 1; }

work=$(mktemp -d /tmp/metricsd-storage.XXXXXX)
chmod 755 "$work"  # the embedded PostgreSQL runs as the postgres user
vm_pid=""
md_pid=""
cleanup() {
  [ -n "$vm_pid" ] && kill "$vm_pid" 2>/dev/null && wait "$vm_pid" 2>/dev/null
  [ -n "$md_pid" ] && kill "$md_pid" 2>/dev/null && wait "$md_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "== metricsd block format"
start_ms=$(( ($(date +%s) / 86400 - 1) * 86400000 ))
"$CODEC_BIN" --start-ms "$start_ms" --nodes "$NODES" --metrics "$METRICS" --hours "$HOURS" --interval-ms "$INTERVAL_MS" \
  --jitter-ms "$JITTER_MS" --seed "$SEED" --lines "$work/lines.txt" | tee "$work/codec.txt"
samples=$(sed -n 's/.*: \([0-9]*\) samples$/\1/p' "$work/codec.txt")
split -l 200000 "$work/lines.txt" "$work/part-"  # 200 000 lines: about 11 MB a request
rm "$work/lines.txt"

echo "== metricsd ($("$METRICSD_BIN" --version | head -1))"
# The daemon refuses METRICSD_* variables it does not know: not this one of the script.
env -u METRICSD_BIN "$METRICSD_BIN" serve --listen 127.0.0.1:18080 --data-dir "$work/md" \
  --ingest-compaction-interval-ms 1s --ingest-compaction-grace-ms 0ms >"$work/md.log" 2>&1 &
md_pid=$!
for _ in $(seq 600); do
  curl -fsS http://127.0.0.1:18080/readyz >/dev/null 2>&1 && break
  kill -0 "$md_pid" 2>/dev/null || { cat "$work/md.log" >&2; exit 1; }
  sleep 0.1
done
psql_md() { psql -h "$work/md/run" -p 5432 -U postgres -d metricsd -XAtq -c "$1"; }
auth="Authorization: Bearer $(cat "$work/md/admin.token")"
t0=$(date +%s.%N)
for f in "$work"/part-*; do
  # 503 (the writer's queue is full): wait as told and send again.
  until [ "$(curl -sS -o /dev/null -w '%{http_code}' -H "$auth" --data-binary @"$f" \
            'http://127.0.0.1:18080/api/v1/write?precision=ms')" = 204 ]; do sleep 1; done
done
t1=$(date +%s.%N)
# Compacted (inbox empty), merged (one block per series and table for the day) and the
# day's partitions rewritten by the daemon: what it leaves at rest, measured as it is.
day=$(date -u -d @$((start_ms / 1000)) +%Y%m%d)
for _ in $(seq 1200); do
  left=$(psql_md "SELECT (SELECT count(*) FROM inbox) + (SELECT count(*) FROM (SELECT 1 FROM
    sample_blocks GROUP BY series_id HAVING count(*) > 1 UNION ALL SELECT 1 FROM rollup_1m_blocks
    GROUP BY series_id HAVING count(*) > 1 UNION ALL SELECT 1 FROM rollup_1h_blocks
    GROUP BY series_id HAVING count(*) > 1) m) + 3 - (SELECT count(*) FROM block_partitions_packed
    WHERE relname LIKE '%_p$day')")
  [ "$left" = 0 ] && break
  sleep 1
done
t2=$(date +%s.%N)
[ "$left" = 0 ] || echo "metricsd: not merged after 20 minutes ($left left)" >&2
stored=$(psql_md "SELECT sum(n) FROM sample_blocks")
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$samples" 'BEGIN {printf "ingest %.1f s (%.2f M samples/s over HTTP, one curl at a time), compaction and merge %.1f s more\n", b - a, n / (b - a) / 1e6, c - b}'
echo "samples stored: $stored of $samples"
psql_md "SELECT t, pg_size_pretty(sum(b)), round(sum(b)::numeric / $samples, 3)
  FROM (SELECT p.relname AS t, pg_total_relation_size(c.oid) AS b FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname IN ('sample_blocks', 'rollup_1m_blocks', 'rollup_1h_blocks')
        UNION ALL SELECT 'series', pg_total_relation_size('series')) s
  GROUP BY ROLLUP (t) ORDER BY t NULLS LAST" |
  awk -F'|' '{printf "  %-18s %10s %8s B/sample\n", ($1 == "" ? "total" : $1), $2, $3}'
# The PL/pgSQL decoder the `metrics` view uses, on ten whole-day blocks.
psql_md "SELECT count(*), extract(epoch FROM clock_timestamp() - now())
  FROM (SELECT data || tail AS block FROM sample_blocks ORDER BY series_id LIMIT 10) b,
       metricsd_decode_samples(b.block)" |
  awk -F'|' '{printf "  SQL decoder (metricsd_decode_samples): %d samples in %.2f s, %.1f us a sample\n", $1, $2, $2 * 1e6 / $1}'
if [ -n "${DETAIL:-}" ]; then
  psql_md "SELECT c.relname, pg_relation_size(c.oid), pg_relation_size(c.reltoastrelid),
      pg_indexes_size(c.oid), (SELECT pg_indexes_size(c.reltoastrelid)),
      pg_total_relation_size(c.oid), (SELECT count(*) FROM pg_class WHERE false)
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
    WHERE p.relname IN ('sample_blocks', 'rollup_1m_blocks', 'rollup_1h_blocks') ORDER BY 1"
fi
kill "$md_pid" && wait "$md_pid" 2>/dev/null || true
md_pid=""

echo "== VictoriaMetrics ($("$VM_BIN" -version 2>&1 | head -1))"
"$VM_BIN" -storageDataPath="$work/vm" -httpListenAddr=127.0.0.1:18428 -retentionPeriod=100y \
  >"$work/vm.log" 2>&1 &
vm_pid=$!
for _ in $(seq 100); do
  curl -fsS http://127.0.0.1:18428/health >/dev/null 2>&1 && break
  sleep 0.1
done
for f in "$work"/part-*; do
  curl -fsS --data-binary @"$f" 'http://127.0.0.1:18428/write?precision=ms'
done
curl -fsS http://127.0.0.1:18428/internal/force_flush
# Every sample searchable, then one merge of the month's partition, waited for.
for _ in $(seq 600); do
  got=$(curl -fsS http://127.0.0.1:18428/metrics | sed -n 's/^vm_rows{type="storage\/\(small\|big\)"} //p' |
        awk '{s += $1} END {print s + 0}')
  [ "$got" -ge "$samples" ] && break
  sleep 0.5
done
curl -fsS "http://127.0.0.1:18428/internal/force_merge?partition_prefix=$(date -u -d @$((start_ms / 1000)) +%Y_%m)" >/dev/null
for _ in $(seq 600); do
  grep -q 'forced merge for partition_prefix=.* has been successfully finished' "$work/vm.log" && break
  sleep 0.5
done
kill "$vm_pid" && wait "$vm_pid" 2>/dev/null || true
vm_pid=""
vm_bytes=$(du -sb "$work/vm/data" "$work/vm/indexdb" | awk '{s += $1} END {print s}')
awk -v b="$vm_bytes" -v n="$samples" \
  'BEGIN {printf "VictoriaMetrics, data + indexdb: %.3f B/sample (%d bytes, %d samples)\n", b / n, b, n}'
