#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root, or with sudo available):
#   packaging/dev.sh run    install what is missing, build the engine (only), run it (embedded
#                           nats-server, flows/)
#   packaging/dev.sh test   install what is missing, build, run the whole test suite (meson test):
#                           what CI runs (a cold build and the suite fit its 90 minutes on 2
#                           cores). More, by variables: SANITIZERS=asan (or "asan tsan") the unit
#                           and integration tests under ASan+UBSan (and TSan), SANITIZER_LONG=1
#                           the `long` suite under them too, FUZZ=<seconds> the fuzz targets,
#                           CROSS=arm64|armhf the cross build's unit tests under qemu. Everything:
#                           SANITIZERS="asan tsan" FUZZ=20 CROSS=arm64 (about 2 hours on 2 cores)
#   packaging/dev.sh asan   the unit and integration tests under AddressSanitizer + UBSan (build-asan)
#   packaging/dev.sh tsan   the unit and integration tests under ThreadSanitizer (build-tsan)
#   packaging/dev.sh fuzz [seconds]  the libFuzzer targets, each for `seconds` (default 20), built
#                           with clang in build-fuzz (tests/fuzz/README.md)
#   packaging/dev.sh build  install what is missing and build
# BUILD_DIR (default: build) and BUILD_TYPE (default: debugoptimized) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache serves a clone in another directory too (its debug info then names the directory of
# the build that filled the cache).
export CCACHE_NOHASHDIR=1

source packaging/lib.sh
# What builds the engine (packaging/build-packages.txt), then what the tests need.
mapfile -t packages < <(package_list packaging/build-packages.txt)
packages+=(ccache doctest-dev nats-server mosquitto mosquitto-clients python3-paho-mqtt openssl libfuse3-dev fuse3 clang-format
  bsdutils  # logger, whose syslog messages the udp_input and syslog_input tests send
  socat)    # the pseudo-terminal pair of modbus_input's RTU test

install_missing() { apt_install_missing "${packages[@]}"; }

# The container files' offline checks (packaging/checks/container_files.sh) need docker-compose
# (apt) and dockerfile-utils (npm, pinned, into .cache/tools).
dockerfile_utils=dockerfile-utils@0.16.3
install_test_tools() {
  command -v docker-compose >/dev/null || apt_install_missing docker-compose
  command -v clang-tidy >/dev/null || apt_install_missing clang-tidy
  command -v npm >/dev/null || apt_install_missing npm
  if [ ! -x .cache/tools/node_modules/.bin/dockerfile-utils ]; then
    echo "dev.sh: installing $dockerfile_utils into .cache/tools"
    npm install --no-audit --no-fund --silent --prefix .cache/tools "$dockerfile_utils"
  fi
}

# The fuzz and sanitizer builds: clang with its sanitizer runtimes and libFuzzer.
clang_packages=(clang libclang-rt-14-dev)

# Extra arguments go to meson setup; TARGETS (default: all) to ninja.
build() {
  local dir="${BUILD_DIR:-build}"
  if [ ! -f "$dir/build.ninja" ]; then
    # meson picks up ccache by itself when it is installed.
    meson setup "$dir" --buildtype="${BUILD_TYPE:-debugoptimized}" -Dwerror="${WERROR:-true}" "$@"
  fi
  # shellcheck disable=SC2086 # a list of targets
  ninja -C "$dir" ${TARGETS:-}
}

# The unit and integration suites under one sanitizer, in a build dir of its own (build-asan,
# build-tsan) configured with -Dtests=integration (no benchmarks). The integration tests run that
# dir's weir (WEIR_BIN), so the engine is sanitized too; a report in an engine's log fails the
# test that started it (tests/support/child_process.cpp). Suppressions: tests/sanitizers/.
# Built with clang at -O1 with line tables only (reports keep file:line): about three times less
# CPU than GCC 12 at -O2 -g with the sanitizers on, and no false warnings, so -Werror stays.
# Extra arguments go to meson test. A subshell, so the *SAN_OPTIONS stay here.
sanitized_tests() (
  local kind=$1 supp="$PWD/tests/sanitizers" setup=() wrap=() skip=() multiplier
  shift
  case "$kind" in
    asan)
      # UB fails the test (not recoverable), a leak at exit too; abort_on_error ends every report
      # in SIGABRT, so a test that expects exit status 1 from weir cannot take a report for it.
      setup=(-Db_sanitize=address,undefined "-Dcpp_args=-fno-sanitize-recover=undefined -gline-tables-only")
      export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:check_initialization_order=1:strict_init_order=1"
      export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
      export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
      multiplier=3
      # The delivery tests under faults that take a minute or more each (suite `long`) run
      # natively; under ASan they would add about 10 minutes to CI. SANITIZER_LONG=1 runs them.
      [ "${SANITIZER_LONG:-0}" = 1 ] || skip=(--no-suite long)
      ;;
    tsan)
      # A race is reported and the run goes on (every race of a test in one run); the process
      # then exits with 66, which fails the test.
      setup=(-Db_sanitize=thread -Dcpp_args=-gline-tables-only)
      export TSAN_OPTIONS="second_deadlock_stack=1:suppressions=$supp/tsan.supp:print_suppressions=0"
      multiplier=10
      # As under ASan, the `long` suite only with SANITIZER_LONG=1.
      [ "${SANITIZER_LONG:-0}" = 1 ] || skip=(--no-suite long)
      # TSan cannot map its shadow memory when the kernel randomizes mmap with more than 28 bits
      # ("FATAL: ThreadSanitizer: unexpected memory mapping"): run without ASLR there.
      if [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)" -gt 28 ]; then
        wrap=(setarch "$(uname -m)" -R)
      fi
      ;;
  esac
  apt_install_missing "${clang_packages[@]}"
  CC=clang CXX=clang++ BUILD_DIR="build-$kind" build -Doptimization=1 -Dc_args=-gline-tables-only \
    -Dtests=integration -Db_lundef=false "${setup[@]}"
  echo "dev.sh: the unit and integration tests under $kind"
  "${wrap[@]}" meson test -C "build-$kind" --suite unit --suite integration "${skip[@]}" --print-errorlogs \
    --timeout-multiplier "$multiplier" "$@"
)

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  run)
    install_missing
    # Only the engine: the test suite is `dev.sh test`'s to build.
    TARGETS=src/app/weir build
    exec "${BUILD_DIR:-build}/src/app/weir" run "$@"
    ;;
  test)
    install_missing
    install_test_tools
    build
    status=0
    meson test -C "${BUILD_DIR:-build}" --print-errorlogs "$@" || status=$?
    # The fuzz targets, each for FUZZ seconds (none by default).
    if [ "${FUZZ:-none}" != none ]; then
      apt_install_missing "${clang_packages[@]}"
      tests/fuzz/run.sh --build
      WEIR_FUZZ_SECONDS="$FUZZ" meson test -C build-fuzz --no-rebuild --suite fuzz --print-errorlogs ||
        status=1
    fi
    # Then a cross build and its unit tests under qemu-user (CROSS=arm64 or armhf; none by default).
    for arch in ${CROSS-none}; do
      [ "$arch" = none ] && continue
      packaging/cross/build.sh "$arch" || status=1
    done
    # Last, the unit and integration suites under the sanitizers (SANITIZERS=asan, "asan tsan";
    # none by default): README.md, Development.
    for kind in ${SANITIZERS-none}; do
      [ "$kind" = none ] && continue
      sanitized_tests "$kind" || status=1
    done
    exit "$status"
    ;;
  asan|tsan)
    install_missing
    sanitized_tests "$cmd" "$@"
    ;;
  fuzz)
    # Only what the fuzz build needs: the engine's libraries and clang with libFuzzer.
    apt_install_missing "${packages[@]}" "${clang_packages[@]}"
    exec tests/fuzz/run.sh "${1:-20}"
    ;;
  build)
    install_missing
    build
    ;;
  *)
    sed -n '2,15p' "$0"
    exit 2
    ;;
esac
