#!/usr/bin/env bash
# Runs the libFuzzer targets (README.md): tests/fuzz/run.sh [seconds-per-target] [target...]
# Builds BUILD_DIR (default build-fuzz, clang, ASan+UBSan, -Dfuzz=true) when it is missing, runs
# each target for the given time (default 60 s) from its checked-in seed corpus, and prints one
# line per target:
#   fuzz <target> execs=<N> cov=<N> ft=<N> corpus=<N> crashes=<N> seconds=<N>
# Exit 1 on any crash, leak, timeout, out-of-memory or sanitizer report (its input is kept under
# BUILD_DIR/fuzz/artifacts/<target>/ and the log under BUILD_DIR/fuzz/logs/).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds="${1:-60}"
[ $# -gt 0 ] && shift
all=(flow_loader expr bridge_frame batch_reader http_request engine_config json_write)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
dir="${BUILD_DIR:-build-fuzz}"
export CCACHE_NOHASHDIR=1

if [ ! -f "$dir/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$dir" -Dfuzz=true -Dtests=none -Db_sanitize=address,undefined \
    -Db_lundef=false --buildtype=debugoptimized
fi
ninja -C "$dir" $(printf 'tests/fuzz/fuzz_%s ' "${targets[@]}")

# A UBSan report stops the run like an ASan one does (libFuzzer then saves the input).
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

status=0
for t in "${targets[@]}"; do
  exe="$dir/tests/fuzz/fuzz_$t"
  seeds="tests/fuzz/corpus/$t"
  work="$dir/fuzz/corpus/$t"       # what the run adds; the checked-in seeds stay as they are
  artifacts="$dir/fuzz/artifacts/$t"
  log="$dir/fuzz/logs/$t.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  rm -f "$artifacts"/*
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  start=$(date +%s)
  rc=0
  "$exe" "${args[@]}" "$work" "$seeds" >"$log" 2>&1 || rc=$?
  elapsed=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(find "$work" -type f | wc -l)
  crashes=$(find "$artifacts" -type f | wc -l)
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] ||
    grep -qE 'runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY: ' "$log"; then
    status=1
    [ "$crashes" -eq 0 ] && crashes=1
    echo "fuzz $t: FAILED (exit $rc), log: $log" >&2
    grep -E 'runtime error:|ERROR:|SUMMARY:|Test unit written' "$log" | head -5 >&2 || true
  fi
  echo "fuzz $t execs=${execs:-0} cov=${cov:-0} ft=${ft:-0} corpus=$corpus crashes=$crashes seconds=$elapsed"
done
exit "$status"
