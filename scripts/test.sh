#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test with ctest.
# Prints ctest's summary; exits non-zero on any failure (with the failing output).
# METRICSD_SANITIZE=1 builds into build-asan with ASan+UBSan instead.
# The benchmarks are not built (bench/ builds them itself). ctest runs the test entries side
# by side: METRICSD_TEST_JOBS of them at once (default: 2 per core); the ones that measure
# time or memory run alone (tests/CMakeLists.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh all
if [ "${METRICSD_SANITIZE:-0}" = 1 ]; then
  export METRICSD_BUILD_DIR=build-asan
  scripts/build.sh -DMETRICSD_TESTS=ON -DMETRICSD_BENCH=OFF -DMETRICSD_SANITIZE=ON
else
  scripts/build.sh -DMETRICSD_TESTS=ON -DMETRICSD_BENCH=OFF
fi
build_dir=${METRICSD_BUILD_DIR:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
jobs=${METRICSD_TEST_JOBS:-$(( $(nproc) * 2 ))}
if ! ctest --test-dir "$build_dir" --output-on-failure --timeout 1500 -j "$jobs" >"$log" 2>&1; then
  cat "$log"
  exit 1
fi
sed -n '/tests passed/,$p' "$log"
