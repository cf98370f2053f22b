#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time (README.md):
#   tests/fuzz/run_target.sh EXE TARGET SECONDS WORK_DIR
# (SECONDS empty: $WEIR_FUZZ_SECONDS, default 20)
# from its checked-in seeds (tests/fuzz/corpus/TARGET, only read) and a working corpus in
# WORK_DIR/corpus/TARGET; the input of a failure goes to WORK_DIR/artifacts/TARGET/, the log to
# WORK_DIR/logs/TARGET.log. Prints one line:
#   fuzz <target> execs=<N> cov=<N> ft=<N> corpus=<N> crashes=<N> seconds=<N>
# Exit 1 on any crash, leak, timeout, out-of-memory or sanitizer report.
set -euo pipefail
exe=$1 t=$2 seconds=${3:-${WEIR_FUZZ_SECONDS:-20}} dir=$4
root="$(cd "$(dirname "$0")/../.." && pwd)"
seeds="$root/tests/fuzz/corpus/$t"
work="$dir/corpus/$t"
artifacts="$dir/artifacts/$t"
log="$dir/logs/$t.log"
mkdir -p "$work" "$artifacts" "$(dirname "$log")"
rm -f "$artifacts"/*
# A UBSan report stops the run like an ASan one does (libFuzzer then saves the input).
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
      -artifact_prefix="$artifacts/")
[ -f "$root/tests/fuzz/$t.dict" ] && args+=(-dict="$root/tests/fuzz/$t.dict")
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
status=0
if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] ||
  grep -qE 'runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY: ' "$log"; then
  status=1
  [ "$crashes" -eq 0 ] && crashes=1
  echo "fuzz $t: FAILED (exit $rc), log: $log" >&2
  grep -E 'runtime error:|ERROR:|SUMMARY:|Test unit written' "$log" | head -5 >&2 || true
fi
echo "fuzz $t execs=${execs:-0} cov=${cov:-0} ft=${ft:-0} corpus=$corpus crashes=$crashes seconds=$elapsed"
exit "$status"
