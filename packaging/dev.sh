#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root, or with sudo available):
#   packaging/dev.sh run    install what is missing, build, run the engine (embedded nats-server, flows/)
#   packaging/dev.sh test   install what is missing, build, run the whole test suite (meson test)
#   packaging/dev.sh asan   the unit tests under AddressSanitizer + UBSan
#   packaging/dev.sh build  install what is missing and build
# BUILD_DIR (default: build) and BUILD_TYPE (default: debugoptimized) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ meson ninja-build pkg-config ccache
  libboost1.81-dev libboost-json1.81-dev
  libnats-dev nats-server
  libwebsocketpp-dev libsqlite3-dev libspdlog-dev libfmt-dev doctest-dev libcli11-dev
  libssl-dev openssl
)

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "dev.sh: installing ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

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
    build
    exec meson test -C "${BUILD_DIR:-build}" --print-errorlogs "$@"
    ;;
  asan)
    install_missing
    BUILD_DIR="${BUILD_DIR:-build-asan}"
    # Not -Werror here: GCC 12 warns falsely (-Wmaybe-uninitialized) inside <regex> once the
    # sanitizers are on; the regular build keeps warnings as errors.
    WERROR=false build -Db_sanitize=address,undefined -Db_lundef=false
    exec meson test -C "$BUILD_DIR" --suite unit --print-errorlogs "$@"
    ;;
  build)
    install_missing
    build
    ;;
  *)
    sed -n '2,7p' "$0"
    exit 2
    ;;
esac
