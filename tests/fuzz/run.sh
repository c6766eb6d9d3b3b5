#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) straight from the parser sources,
# then either replays the committed corpus (tests/fuzz/corpus/<target>/) or fuzzes from it.
# The main build uses g++, so this compiles on its own.
#   tests/fuzz/run.sh [target...]        default: every target
#   FUZZ_SECONDS=n                       fuzz each target for n seconds (default 20);
#                                        0: only replay the corpus, each input once: what
#                                        CI runs (ctest `fuzz`)
#   FUZZ_MERGE=1                         after fuzzing, add the new inputs that reach new
#                                        coverage to tests/fuzz/corpus/<target>/ (commit
#                                        them: CI replays them from then on)
#   FUZZ_ARTIFACTS=dir                   where crashing inputs are kept (default ./fuzz-artifacts)
# Exits 0 when no target crashed, 1 on a crash or build failure, 77 (ctest: skipped) when
# clang++ is missing.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${FUZZ_SECONDS:-20}
artifacts=${FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}
targets=("$@")
# The lists live in one place each: targets.txt and sources.txt (CMake reads them too).
list() { grep -v '^#' "$repo/tests/fuzz/$1" | sed '/^$/d'; }
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(list targets.txt)

cxx=${FUZZ_CXX:-clang++}
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz: SKIPPED: $cxx not found (scripts/deps.sh installs clang and libclang-rt-14-dev)"
  exit 77
fi

mapfile -t sources < <(list sources.txt)
# A replay runs a few hundred inputs: -O0 builds in about 60 % of the time of -O1, which
# fuzzing wants for speed.
if [ "$seconds" = 0 ]; then opt=-O0; else opt=-O1; fi
flags=(-std=c++20 -g "$opt" -fno-omit-frame-pointer -fsanitize=address,undefined
       -fno-sanitize-recover=undefined -I"$repo")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Library objects once, with coverage instrumentation, in parallel.
pids=()
for src in "${sources[@]}"; do
  obj="$work/$(echo "$src" | tr / _).o"
  "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$repo/$src" -o "$obj" \
    >"$obj.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "fuzz: compiling ${sources[$i]} failed:" >&2
    cat "$work/$(echo "${sources[$i]}" | tr / _).o.log" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for t in "${targets[@]}"; do
  bin="$work/$t"
  if ! "$cxx" "${flags[@]}" -fsanitize=fuzzer "$repo/tests/fuzz/$t.cpp" "$work"/*.o -lboost_url -lfmt \
       -o "$bin" >"$work/$t.build.log" 2>&1; then
    echo "fuzz: building $t failed:" >&2
    cat "$work/$t.build.log" >&2
    exit 1
  fi
  dict=()
  case "$t" in
    fuzz_line_protocol) dict=(-dict="$repo/tests/fuzz/line_protocol.dict") ;;
    fuzz_json_ingest) dict=(-dict="$repo/tests/fuzz/json_ingest.dict") ;;
    fuzz_http_request) dict=(-dict="$repo/tests/fuzz/http_request.dict") ;;
  esac
  # New inputs go to a scratch corpus; the seed corpus in the repository stays as it is.
  mkdir -p "$work/corpus-$t" "$work/artifacts-$t"
  log="$work/$t.log"
  if [ "$seconds" = 0 ]; then
    # Given files rather than directories, libFuzzer runs each once and does not fuzz.
    mapfile -t inputs < <(find "$repo/tests/fuzz/corpus/$t" -type f | sort)
    run=("${inputs[@]}")
  else
    run=("$work/corpus-$t" "$repo/tests/fuzz/corpus/$t" "${dict[@]}" -max_total_time="$seconds")
  fi
  if "$bin" "${run[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix="$work/artifacts-$t/" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    if [ "$seconds" = 0 ]; then
      echo "fuzz: $t: the corpus's ${#inputs[@]} inputs replayed, no crash"
    else
      echo "fuzz: $t: no crash in ${seconds} s (${runs:-?} runs, ${cov:-cov: ?})"
      if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        before=$(find "$repo/tests/fuzz/corpus/$t" -type f | wc -l)
        "$bin" -merge=1 "$repo/tests/fuzz/corpus/$t" "$work/corpus-$t" "${dict[@]}" \
          -max_len=65536 >"$work/$t.merge.log" 2>&1
        after=$(find "$repo/tests/fuzz/corpus/$t" -type f | wc -l)
        echo "fuzz: $t: $((after - before)) new inputs merged into tests/fuzz/corpus/$t"
      fi
    fi
  else
    status=1
    echo "fuzz: $t: FAILED" >&2
    grep -v '^#[0-9]' "$log" | tail -60 >&2
    if compgen -G "$work/artifacts-$t/*" >/dev/null; then
      mkdir -p "$artifacts"
      cp "$work/artifacts-$t/"* "$artifacts/"
      echo "fuzz: crashing inputs kept in $artifacts:" >&2
      ls -1 "$work/artifacts-$t/" | sed "s|^|  $artifacts/|" >&2
      echo "fuzz: fix the code and add each input as a regression case to tests/unit" >&2
    fi
  fi
done
exit "$status"
