#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root, or with sudo available):
#   packaging/dev.sh run    install what is missing, build, run the engine (embedded nats-server, flows/)
#   packaging/dev.sh test   install what is missing, build, run the whole test suite (meson test),
#                           the fuzz targets 20 s each (FUZZ=<seconds>|none), then the arm64 cross
#                           build's unit tests under qemu (CROSS=none skips it)
#   packaging/dev.sh asan   the unit tests under AddressSanitizer + UBSan
#   packaging/dev.sh fuzz [seconds]  the libFuzzer targets, each for `seconds` (default 20), built
#                           with clang in build-fuzz (tests/fuzz/README.md)
#   packaging/dev.sh build  install what is missing and build
# BUILD_DIR (default: build) and BUILD_TYPE (default: debugoptimized) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."

source packaging/lib.sh
# What builds the engine (packaging/build-packages.txt), then what the tests need.
mapfile -t packages < <(package_list packaging/build-packages.txt)
packages+=(ccache doctest-dev nats-server openssl libfuse3-dev fuse3 clang-format)

install_missing() { apt_install_missing "${packages[@]}"; }

# The container files' offline checks (packaging/checks/container_files.sh) need docker-compose
# (apt) and dockerfile-utils (npm, pinned, into .cache/tools).
dockerfile_utils=dockerfile-utils@0.16.3
install_test_tools() {
  command -v docker-compose >/dev/null || apt_install_missing docker-compose
  command -v npm >/dev/null || apt_install_missing npm
  if [ ! -x .cache/tools/node_modules/.bin/dockerfile-utils ]; then
    echo "dev.sh: installing $dockerfile_utils into .cache/tools"
    npm install --no-audit --no-fund --silent --prefix .cache/tools "$dockerfile_utils"
  fi
}

# The fuzz build (tests/fuzz/run.sh): clang with libFuzzer.
fuzz_packages=(clang libclang-rt-14-dev)

build() {
  local dir="${BUILD_DIR:-build}"
  if [ ! -f "$dir/build.ninja" ]; then
    # meson picks up ccache by itself when it is installed.
    meson setup "$dir" --buildtype="${BUILD_TYPE:-debugoptimized}" -Dwerror="${WERROR:-true}" "$@"
  fi
  ninja -C "$dir"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  run)
    install_missing
    build
    exec "${BUILD_DIR:-build}/src/app/weir" run "$@"
    ;;
  test)
    install_missing
    install_test_tools
    build
    status=0
    meson test -C "${BUILD_DIR:-build}" --print-errorlogs "$@" || status=$?
    # The fuzz targets, each for FUZZ seconds (default 20; FUZZ=none skips them).
    if [ "${FUZZ:-20}" != none ]; then
      apt_install_missing "${fuzz_packages[@]}"
      tests/fuzz/run.sh --build
      WEIR_FUZZ_SECONDS="${FUZZ:-20}" meson test -C build-fuzz --no-rebuild --suite fuzz --print-errorlogs ||
        status=1
    fi
    # Then the arm64 cross build and its unit tests under qemu-user (CROSS=none skips it).
    for arch in ${CROSS-arm64}; do
      [ "$arch" = none ] && continue
      packaging/cross/build.sh "$arch" || status=1
    done
    exit "$status"
    ;;
  asan)
    install_missing
    BUILD_DIR="${BUILD_DIR:-build-asan}"
    # Not -Werror here: GCC 12 warns falsely (-Wmaybe-uninitialized) inside <regex> once the
    # sanitizers are on; the regular build keeps warnings as errors.
    WERROR=false build -Db_sanitize=address,undefined -Db_lundef=false
    exec meson test -C "$BUILD_DIR" --suite unit --print-errorlogs "$@"
    ;;
  fuzz)
    # Only what the fuzz build needs: the engine's libraries and clang with libFuzzer.
    apt_install_missing "${packages[@]}" "${fuzz_packages[@]}"
    exec tests/fuzz/run.sh "${1:-20}"
    ;;
  build)
    install_missing
    build
    ;;
  *)
    sed -n '2,9p' "$0"
    exit 2
    ;;
esac
