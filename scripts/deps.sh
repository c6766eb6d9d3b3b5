#!/usr/bin/env bash
# The one list of what metricsd needs on Debian bookworm, and its installer.
# Used by scripts/run.sh, scripts/test.sh, .ci/run and docker/Dockerfile.
#   scripts/deps.sh          install build + runtime + test packages that are missing
#   scripts/deps.sh build    only what building and running the daemon needs
#   scripts/deps.sh runtime  only what the installed daemon needs (Docker runtime stage)
# Quiet on success; idempotent (apt runs only when something is missing). `all` also installs
# the npm clients the tests drive (tests/integration/clients/package.json).
set -euo pipefail

runtime_pkgs=(
  postgresql-15            # the embedded PostgreSQL server binaries (initdb, postgres)
  libpqxx-6.4 libspdlog1.10 libfmt9 libboost-url1.81.0 libsystemd0 zlib1g libssl3 ca-certificates
  libprotobuf-lite32 libsnappy1v5        # Prometheus remote write bodies
  curl                     # container health check (docker/Dockerfile, docker/compose.yaml)
)
build_pkgs=(
  build-essential cmake pkg-config
  ccache                                  # scripts/build.sh: recompiles only what changed
  libboost1.81-dev libboost-url1.81-dev   # Asio, Beast, URL
  libpqxx-dev libpq-dev                   # PostgreSQL client
  nlohmann-json3-dev                      # JSON (settings, API bodies)
  libspdlog-dev libfmt-dev                # logging
  libsystemd-dev                          # sd_notify readiness for the systemd unit
  zlib1g-dev                              # gzip request bodies
  libssl-dev                              # SHA-256 of tokens, random secrets, TLS
  libprotobuf-dev protobuf-compiler       # Prometheus remote write (protobuf messages)
  libsnappy-dev                           # ... and its snappy-compressed bodies
  postgresql-15
)
test_pkgs=(
  libgtest-dev                            # GoogleTest
  prometheus                              # promtool checks /metrics; the server remote-writes
                                          # to the daemon (prom_remote_write_test)
  clang-format curl procps
  openssl                                 # the TLS tests make self-signed certificates
  clang libclang-rt-14-dev                # libFuzzer + sanitizer runtimes (tests/fuzz/run.sh)
  chromium                                # headless browser end of the /ws/metrics test
  python3-influxdb                        # InfluxDB 1.x Python client (influx_clients_test)
  nodejs                                  # runs the npm InfluxDB clients (tests/integration/clients)
)

case "${1:-all}" in
  runtime) want=("${runtime_pkgs[@]}") ;;
  build) want=("${build_pkgs[@]}") ;;
  all) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 [all|build|runtime]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# npm comes with nodejs from NodeSource, separately in Debian.
if [ "${1:-all}" = all ] && ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

# The npm InfluxDB clients the tests drive, pinned in tests/integration/clients/package-lock.json,
# into tests/integration/clients/node_modules (after the packages, so npm is there).
npm_clients() {
  [ "${1:-all}" = all ] || return 0
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/integration/clients"
  [ -d "$dir/node_modules/influx" ] && [ -d "$dir/node_modules/@influxdata/influxdb-client" ] &&
    return 0
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    { echo "deps.sh: npm ci in $dir failed" >&2; exit 1; }
}

[ ${#missing[@]} -eq 0 ] && { npm_clients "${1:-all}"; exit 0; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $SUDO apt-get update -qq && \
       $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "deps.sh: installing ${missing[*]} failed" >&2
  rm -f "$log"; exit 1
fi
rm -f "$log"
npm_clients "${1:-all}"
