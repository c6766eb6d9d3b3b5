#!/usr/bin/env bash
# Configures and builds metricsd into ./build (or $METRICSD_BUILD_DIR). Quiet on success;
# on failure prints the compiler's output. Extra arguments go to CMake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${METRICSD_BUILD_DIR:-build}
# ccache (scripts/deps.sh installs it) keeps compiled objects across checkouts: a fresh clone
# compiles only what changed since the last build on this machine. Paths are taken relative
# to the checkout so another directory hits the same entries. CCACHE_DISABLE=1 (ccache's own
# switch) compiles without it.
launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=)
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=${METRICSD_BUILD_TYPE:-RelWithDebInfo} \
        "${launcher[@]}" "$@" &&
       cmake --build "$build_dir" -j "$(nproc)"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "build failed" >&2
  exit 1
fi
