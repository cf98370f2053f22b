#!/usr/bin/env bash
# Builds weir's image for another architecture from packaging/docker/Dockerfile with podman, the
# build stages running under qemu-user through binfmt_misc (root needed; run by hand: compiling
# weir under emulation on 2 cores takes hours):
#   packaging/docker/multiarch.sh [arm64|armhf]        default: arm64
# The base images are made here with mmdebstrap for that architecture (kept once made) and
# tagged debian:bookworm-ARCH and debian:bookworm-ARCH-slim, which the Dockerfile's FROM lines
# name with --build-arg DEBIAN_TAG=bookworm-ARCH: the Dockerfile is the one amd64 builds.
# Then `weir version` runs in the image (under qemu). Prints the time of each step and the
# image's size. The image is removed at the end unless KEEP_IMAGE=1. It has no time limit of its
# own: podman 4.3 stopped by a signal leaves the RUN step it was in running under runc (see it
# with `runc list`, end it with `runc kill ID KILL` and `runc delete ID`).
set -euo pipefail
cd "$(dirname "$0")/../.."
source packaging/docker/podman-lib.sh

arch="${1:-arm64}"
case "$arch" in
  arm64) qemu=qemu-aarch64 platform=linux/arm64 ;;
  armhf) qemu=qemu-arm platform=linux/arm/v7 ;;
  *) sed -n '5p' "$0"; exit 2 ;;
esac
image="localhost/weir:0.1.0-$arch"
cleanup() {
  if [ "${KEEP_IMAGE:-0}" != 1 ]; then pm rmi "$image" >/dev/null 2>&1 || true; fi
  rm -f "${podman_conf:-}" "${build_log:-}"
  return 0
}
trap cleanup EXIT

t_all=$SECONDS
step "prerequisites and binfmt_misc ($qemu)"
podman_prereqs qemu-user-static binfmt-support
if [ ! -e "/proc/sys/fs/binfmt_misc/$qemu" ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable "$qemu" 2>/dev/null || true
fi
# F: the kernel opens the interpreter once, so it works inside containers that do not hold it.
grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/$qemu" ||
  die "$qemu is not registered with binfmt_misc with flag F (update-binfmts --enable $qemu)"
step_done "prerequisites"

step "base images for $arch (mmdebstrap under qemu, kept once made)"
make_base "$arch" "bookworm-$arch"
make_base "$arch" "bookworm-$arch-slim" slim
step_done "base images"

step "podman build --platform $platform $image"
build_log=$(mktemp)
set +e
"${idle[@]}" podman --runtime runc build --format docker --platform "$platform" \
  --build-arg "DEBIAN_TAG=bookworm-$arch" \
  --ulimit "nofile=$WEIR_ULIMIT_NOFILE:$WEIR_ULIMIT_NOFILE" --ulimit "nproc=$WEIR_ULIMIT_NPROC:$WEIR_ULIMIT_NPROC" \
  -f packaging/docker/Dockerfile -t "$image" . >"$build_log" 2>&1
rc=$?
set -e
step_done "build"
if [ "$rc" -ne 0 ]; then
  tail -15 "$build_log"
  die "podman build failed (exit $rc; the last lines are above)"
fi
size=$(pm image inspect --format '{{.Size}}' "$image")
got=$(pm image inspect --format '{{.Os}}/{{.Architecture}}' "$image")
[ "$got" = "linux/$arch" ] || [ "$got" = "linux/arm" ] || die "the image is for $got, not $arch"

step "the $arch image under qemu"
out=$(pm_run --rm --no-healthcheck --platform "$platform" "$image" version) || die "weir version: $out"
grep -qE '^weir [0-9]' <<<"$out" || die "weir version printed: $out"
echo "ok   weir version: $out ($got, under $qemu)"
step_done "run"

echo "== summary (packaging/docker/multiarch.sh $arch, $(date -u +%Y-%m-%dT%H:%MZ))"
echo "  image $image ($got): $size bytes"
print_times
echo "  total $((SECONDS - t_all)) s"
echo "multiarch build: passed"
