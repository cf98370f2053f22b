#!/usr/bin/env bash
# Cross builds on a Debian 12 amd64 machine (run as root, or with sudo available), the unit tests
# run under qemu-user through meson's exe_wrapper (no binfmt_misc registration needed):
#   packaging/cross/build.sh arm64 [--no-test]   against Debian multiarch (adds arm64 to dpkg)
#   packaging/cross/build.sh armhf [--no-test]   against an mmdebstrap sysroot (SYSROOT, default
#                                                /var/cache/weir-cross/armhf-sysroot, reused while
#                                                its package list is unchanged)
# Installs what is missing, configures with -Dtests=unit -Dwerror=true, builds, checks that
# src/app/weir is an ELF for the right machine, writes a stripped copy (BUILD_DIR/weir.stripped),
# then runs `meson test --suite unit` with --timeout-multiplier TIMEOUT_MULTIPLIER (default 4:
# qemu-user is several times slower than native). BUILD_DIR (default: build-<arch>), BUILD_TYPE
# (default: debugoptimized), MESON_ARGS (replaces -Dtests=unit and the build type) and, for the
# sysroot, MIRROR (default: http://deb.debian.org/debian) may be set.
set -euo pipefail
cd "$(dirname "$0")/../.."
source packaging/lib.sh
src_root="$PWD"

usage() { sed -n '2,13p' "$0"; exit 2; }

arch="${1:-}"
[ $# -gt 0 ] && shift
run_tests=1
for a in "$@"; do
  case "$a" in
    --no-test) run_tests=0 ;;
    *) usage ;;
  esac
done

# Host tools every cross build needs. nats-server is the host's (amd64): some unit tests start it
# as a child process, and the kernel runs it natively even when its parent runs under qemu (the
# WebSocket link tests run the host's openssl likewise, to make certificates).
# The architecture-independent headers (doctest, websocketpp, CLI11) serve the multiarch build.
host_packages=(meson ninja-build pkg-config ccache file binutils qemu-user-static nats-server openssl)
indep_dev_packages=(libwebsocketpp-dev libcli11-dev doctest-dev)
# The target's -dev packages, as <pkg>:arm64 through multiarch or inside the armhf sysroot: what
# builds the engine (packaging/build-packages.txt) but the host's tools and the headers above.
mapfile -t target_dev_packages < <(package_list packaging/build-packages.txt |
  grep -vxF -e g++ -e meson -e ninja-build -e pkg-config "${indep_dev_packages[@]/#/-e}")

case "$arch" in
  arm64)
    triplet=aarch64-linux-gnu
    qemu=qemu-aarch64-static
    elf_machine='AArch64'
    elf_class='ELF64'
    interp='/lib/ld-linux-aarch64.so.1'
    packages=("${host_packages[@]}" "${indep_dev_packages[@]}" g++-aarch64-linux-gnu)
    for p in "${target_dev_packages[@]}"; do packages+=("$p:arm64"); done
    ;;
  armhf)
    triplet=arm-linux-gnueabihf
    qemu=qemu-arm-static
    elf_machine='ARM'
    elf_class='ELF32'
    interp='/lib/ld-linux-armhf.so.3'
    # mmdebstrap runs the armhf maintainer scripts through qemu-user's binfmt_misc entry
    # (binfmt-support registers it); arch-test is how mmdebstrap checks that it works.
    packages=("${host_packages[@]}" g++-arm-linux-gnueabihf mmdebstrap arch-test binfmt-support
              debian-archive-keyring)
    ;;
  *) usage ;;
esac

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)

install_missing() {
  if [ "$arch" = arm64 ] && ! { [ "$(dpkg --print-architecture)" = arm64 ] ||
                                 grep -qx arm64 <<<"$(dpkg --print-foreign-architectures)"; }; then
    echo "cross: dpkg --add-architecture arm64"
    "${sudo[@]}" dpkg --add-architecture arm64
  fi
  apt_install_missing "${packages[@]}"
}

# The armhf sysroot: the target's -dev packages and everything they depend on (libc6-dev, the
# runtime libraries qemu-arm loads through -L), plus the architecture-independent headers, since
# --sysroot hides the host's /usr/include. A stamp file records the package list it was built from.
sysroot_packages=(libc6-dev libstdc++6 "${target_dev_packages[@]}" "${indep_dev_packages[@]}")
# Only the release itself from MIRROR: mmdebstrap given no mirror adds bookworm-updates and
# bookworm-security, whose armhf index can lag (apt then fails: "File has unexpected size ...
# Mirror sync in progress?"); the release is enough to build and run the tests against.
mirror="${MIRROR:-http://deb.debian.org/debian}"
# libc6-dev's lib*.so links are absolute (libm.so -> /lib/arm-linux-gnueabihf/libm.so.6): seen
# from the host they point outside the sysroot, so the linker would miss them. Made relative.
relative_lib_links() {
  local root="$1" link target
  while IFS= read -r -d '' link; do
    target="$(readlink "$link")"
    "${sudo[@]}" ln -sfr "$root$target" "$link"
  done < <(find "$root/usr/lib/arm-linux-gnueabihf" -maxdepth 1 -type l -lname '/*' -print0)
}
make_sysroot() {
  local dir="$1"
  local stamp="$dir/.weir-sysroot"
  local want
  want="mmdebstrap --variant=apt --architectures=armhf bookworm $mirror ${sysroot_packages[*]}"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "cross: reusing sysroot $dir"
    return 0
  fi
  if [ -e "$dir" ] && [ ! -f "$stamp" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "cross: $dir exists and was not made by this script; remove it or set SYSROOT" >&2
    exit 1
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-arm ]; then
    # mmdebstrap runs the armhf maintainer scripts in a chroot: that needs binfmt_misc.
    "${sudo[@]}" update-binfmts --enable qemu-arm 2>/dev/null || true
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-arm ]; then
      echo "cross: qemu-arm is not registered with binfmt_misc (needed by mmdebstrap for the sysroot)" >&2
      exit 1
    fi
  fi
  echo "cross: creating sysroot $dir"
  local t0=$SECONDS
  local tmp="$dir.tmp"
  "${sudo[@]}" rm -rf "$tmp" "$dir"
  "${sudo[@]}" mkdir -p "$(dirname "$dir")"
  local include
  include="$(IFS=,; echo "${sysroot_packages[*]}")"
  "${sudo[@]}" mmdebstrap --variant=apt --architectures=armhf --include="$include" bookworm "$tmp" \
    "$mirror"
  relative_lib_links "$tmp"
  echo "$want" | "${sudo[@]}" tee "$tmp/.weir-sysroot" >/dev/null
  "${sudo[@]}" mv "$tmp" "$dir"
  echo "cross: sysroot created in $((SECONDS - t0)) s, $("${sudo[@]}" du -sh "$dir" | cut -f1)"
}

# Timings of the phases, printed at the end even when one fails ("build 412 s, tests 95 s").
timings=()
phase_name=''
phase_start=0
phase() { phase_name="$1"; phase_start=$SECONDS; echo "cross $arch: $2"; }
phase_end() { timings+=("$phase_name $((SECONDS - phase_start)) s"); phase_name=''; }
report() {
  local rc=$?
  [ -n "$phase_name" ] && timings+=("$phase_name $((SECONDS - phase_start)) s (failed)")
  if [ ${#timings[@]} -gt 0 ]; then
    local IFS=,
    echo "cross $arch: ${timings[*]}" | sed 's/,/, /g'
  fi
  if [ $rc -ne 0 ]; then echo "cross $arch: FAILED (exit $rc)" >&2; fi
  return $rc
}
trap report EXIT

install_missing

build_dir="${BUILD_DIR:-build-$arch}"
cross_files=()
wrapper=("$qemu")
if [ "$arch" = armhf ]; then
  sysroot="${SYSROOT:-/var/cache/weir-cross/armhf-sysroot}"
  phase sysroot "sysroot $sysroot"
  make_sysroot "$sysroot"
  phase_end
  # armhf.ini takes the sysroot's path from this generated machine file's [constants].
  mkdir -p "$build_dir"
  sysroot_ini="$(cd "$build_dir" && pwd)/sysroot.ini"
  printf "[constants]\nsysroot = '%s'\n" "$(cd "$sysroot" && pwd)" > "$sysroot_ini"
  cross_files=(--cross-file "$sysroot_ini" --cross-file packaging/cross/armhf.ini)
  wrapper=("$qemu" -L "$sysroot")
else
  cross_files=(--cross-file packaging/cross/arm64.ini)
fi

phase setup "meson setup $build_dir"
if [ ! -f "$build_dir/build.ninja" ]; then
  # MESON_ARGS replaces the default options (packaging/deb/build.sh: a release build, no tests).
  if [ -n "${MESON_ARGS:-}" ]; then
    read -ra setup_args <<<"$MESON_ARGS"
  else
    setup_args=(-Dtests=unit --buildtype="${BUILD_TYPE:-debugoptimized}")
  fi
  meson setup "$build_dir" "${cross_files[@]}" "${setup_args[@]}" -Dwerror=true
else
  echo "cross $arch: $build_dir is already configured (ninja reconfigures it when needed)"
fi
phase_end

phase build "ninja -C $build_dir"
ninja -C "$build_dir"
phase_end

# The binary: the right ELF class, machine, float ABI and program interpreter?
exe="$build_dir/src/app/weir"
file "$exe"
header="$(readelf -h "$exe")"
grep -Eq "Class:[[:space:]]+$elf_class\$" <<<"$header" &&
  grep -Eq "Machine:[[:space:]]+$elf_machine\$" <<<"$header" || {
  echo "cross $arch: $exe is not an $elf_class $elf_machine executable:" >&2
  echo "$header" >&2
  exit 1
}
if [ "$arch" = armhf ] && ! grep -q "Version5 EABI, hard-float ABI" <<<"$header"; then
  echo "cross $arch: $exe is not EABI5 hard-float: $(grep Flags <<<"$header")" >&2
  exit 1
fi
grep -q "interpreter: $interp\]" <<<"$(readelf -l "$exe")" || {
  echo "cross $arch: $exe does not use the program interpreter $interp" >&2
  exit 1
}
"$triplet-strip" -o "$build_dir/weir.stripped" "$exe"
echo "cross $arch: $exe is $elf_class $elf_machine; stripped: $(stat -c %s "$build_dir/weir.stripped") bytes" \
  "($build_dir/weir.stripped; unstripped $(stat -c %s "$exe") bytes)"
# The binary starts under the emulator at all (what the tests rely on).
"${wrapper[@]}" "$exe" version

if [ "$run_tests" -eq 1 ]; then
  phase tests "meson test --suite unit under ${wrapper[*]}"
  meson test -C "$build_dir" --suite unit --print-errorlogs \
    --timeout-multiplier "${TIMEOUT_MULTIPLIER:-4}"
  phase_end
fi
echo "cross $arch: OK ($src_root/$build_dir)"
