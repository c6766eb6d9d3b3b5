#!/usr/bin/env bash
# The agent's cost with GPUs. metricsd-agent runs at a 1 s interval against a throwaway
# daemon, DURATION seconds per run, with 8 GPUs read three ways, in the order
# none nvml smi smi nvml none (the second of each pair measured after the machine warmed):
#   none  --gpu-source none: the agent's own baseline (system metrics only);
#   nvml  --gpu-source nvml: the fake NVML (tests/fakes/fake_nvml.cpp, eight.json: 8 GPUs,
#         12 processes) loaded in-process, every field of every GPU each interval;
#   smi   --gpu-source nvidia-smi: the fallback, forking the test tree's stand-in
#         nvidia-smi (a shell script printing 8 recorded rows). A real nvidia-smi costs
#         more: 29 ms a call on one H200 (../shared/fixtures/gpu-h200/README.md).
# For each run: CPU of the agent and its children in % of one core and per collection
# (utime+stime+cutime+cstime from /proc, after a WARMUP), and the agent's RSS at the end.
#
# Usage: bench/run_agent_gpu.sh
# Environment:
#   BUILD=build           the build dir with tools/metricsd-agent, metricsd and the fake
#                         tests/fakes/libnvidia-ml.so.1 (a -DMETRICSD_TESTS=ON build)
#   DURATION=60 WARMUP=3
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
BUILD=${BUILD:-$REPO/build}
DURATION=${DURATION:-60}
WARMUP=${WARMUP:-3}
DATA=/tmp/bench-agent-gpu-mtd
LISTEN=127.0.0.1:18097
AGENT=$BUILD/tools/metricsd-agent
DAEMON=$BUILD/metricsd
FAKE=$BUILD/tests/fakes/libnvidia-ml.so.1
for f in "$AGENT" "$DAEMON" "$FAKE"; do
  if [ ! -e "$f" ]; then
    echo "missing $f: cmake --build $BUILD -j2 --target metricsd metricsd-agent fake_nvml" >&2
    exit 1
  fi
done

pid=""
stop_daemon() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$DATA"
}
trap stop_daemon EXIT
rm -rf "$DATA"
env -u METRICSD_TOKEN -u METRICSD_BIN "$DAEMON" --data-dir "$DATA" --listen "$LISTEN" \
  --log-level warn --auth-mode disabled >"$DATA.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  curl -sf "http://$LISTEN/readyz" >/dev/null && break
  sleep 0.5
done
curl -sf "http://$LISTEN/readyz" >/dev/null || { echo "daemon not ready: $DATA.log" >&2; exit 1; }

HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }

# run MODE: prints "MODE cpu_pct ms_per_collection rss_mb"
run() {
  local mode=$1 source args=()
  case $mode in
    none) source=none ;;
    nvml) source=nvml; args=(--nvml-library "$FAKE") ;;
    smi) source=nvidia-smi ;;
  esac
  env -u METRICSD_TOKEN \
    PATH="$REPO/tests/fixtures/agent/bin:$PATH" FAKE_NVIDIA_SMI_OUTPUT=eight_h200.csv \
    METRICSD_FAKE_NVML_SCENARIO="$REPO/tests/fakes/eight.json" \
    "$AGENT" --server "http://$LISTEN" --node "bench-$mode" --interval-s 1 \
    --gpu-source "$source" "${args[@]}" --log-level warn 2>"$DATA-agent-$mode.log" &
  local apid=$!
  sleep "$WARMUP"
  local t0 t1
  t0=$(ticks $apid)
  sleep "$DURATION"
  t1=$(ticks $apid)
  local rss_kb
  rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$apid/status")
  kill $apid
  wait $apid 2>/dev/null || true
  awk -v m="$mode" -v d=$((t1 - t0)) -v hz="$HZ" -v s="$DURATION" -v rss="$rss_kb" 'BEGIN {
    printf "%s %.3f %.3f %.1f\n", m, 100 * d / hz / s, 1000 * d / hz / s, rss / 1024 }'
}

echo "# agent at 1 s, ${DURATION} s a run, 8 GPUs; CPU of the agent and its children"
results=$(for m in none nvml smi smi nvml none; do run $m; done)
echo "$results" | awk '
  { cpu[$1] += $2; per[$1] += $3; rss[$1] = ($4 > rss[$1] ? $4 : rss[$1]); n[$1]++ }
  END {
    printf "%-6s %10s %16s %8s\n", "source", "cpu_%core", "ms/collection", "rss_mb"
    for (m in n) printf "%-6s %10.3f %16.3f %8.1f\n", m, cpu[m]/n[m], per[m]/n[m], rss[m]
    if (cpu["nvml"] > 0)
      printf "nvidia-smi fallback / NVML CPU: %.1fx\n", cpu["smi"] / cpu["nvml"]
    printf "NVML - none: %.3f %% of a core for 8 GPUs\n", cpu["nvml"]/n["nvml"] - cpu["none"]/n["none"]
  }'
