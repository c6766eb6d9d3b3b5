#!/usr/bin/env bash
# Configures and builds metricsd into ./build (or $METRICSD_BUILD_DIR). Quiet on success;
# on failure prints the compiler's output. Extra arguments go to CMake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${METRICSD_BUILD_DIR:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=${METRICSD_BUILD_TYPE:-RelWithDebInfo} "$@" &&
       cmake --build "$build_dir" -j "$(nproc)"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "build failed" >&2
  exit 1
fi
