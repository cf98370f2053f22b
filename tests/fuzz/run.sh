#!/usr/bin/env bash
# Runs the libFuzzer targets (README.md): tests/fuzz/run.sh [seconds-per-target] [target...]
# (tests/fuzz/run.sh --build: only sets up and builds them; meson test --suite fuzz runs them.)
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
  # OSS-Fuzz's flags: -O1 with line tables only (crash reports keep file:line), about half the
  # compile time of -O2 -g.
  CC=clang CXX=clang++ meson setup "$dir" -Dfuzz=true -Dtests=none -Db_sanitize=address,undefined \
    -Db_lundef=false --buildtype=debugoptimized -Doptimization=1 -Dcpp_args=-gline-tables-only
fi
ninja -C "$dir" $(printf 'tests/fuzz/fuzz_%s ' "${targets[@]}")
[ "$seconds" = --build ] && exit 0

status=0
for t in "${targets[@]}"; do
  tests/fuzz/run_target.sh "$dir/tests/fuzz/fuzz_$t" "$t" "$seconds" "$dir/fuzz" || status=1
done
exit "$status"
