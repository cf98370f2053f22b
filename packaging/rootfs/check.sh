#!/usr/bin/env bash
# The container's runtime stage, rebuilt without Docker and run under qemu-user (root needed):
#   packaging/rootfs/check.sh [arm64|armhf]        default: arm64
# 1. Builds weir's .deb for ARCH (packaging/deb/build.sh: release, stripped), unless DEB is set.
# 2. Builds a Debian 12 root filesystem for ARCH with mmdebstrap from packaging/runtime-packages.txt,
#    the list the Dockerfile's runtime stage installs, plus nats-server (compose runs it in its
#    own container) and passwd (useradd); reused while that list is unchanged (ROOTFS, default
#    /var/cache/weir-rootfs/ARCH).
# 3. Copies the binary and the image's files in as the Dockerfile does, adds the user weir, and
#    runs the two-site example (examples/two-sites, the compose project's flows and variables) in
#    two network namespaces joined by a veth pair, each with an ARCH nats-server and an engine
#    chrooted into the root filesystem as user weir (qemu-user through binfmt_misc).
# 4. Checks: `weir health` exits 0 on both engines; records cross the bridge, none twice; the
#    .deb installs in the root filesystem with dpkg (its Depends met by the same list); the idle
#    RSS of an engine with no flows, and of qemu alone running `sleep`, for comparison.
# Prints one summary at the end; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
source packaging/lib.sh

arch="${1:-arm64}"
case "$arch" in
  arm64) qemu=qemu-aarch64 ;;
  armhf) qemu=qemu-arm ;;
  *) sed -n '2,3p' "$0"; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "rootfs: run as root (chroot, network namespaces)" >&2; exit 2; }
apt_install_missing mmdebstrap qemu-user-static binfmt-support iproute2 arch-test curl
if [ ! -e "/proc/sys/fs/binfmt_misc/$qemu" ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable "$qemu" 2>/dev/null || true
fi
grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/$qemu" || {
  echo "rootfs: $qemu is not registered with binfmt_misc (flag F needed for chroot)" >&2; exit 1; }

t_start=$SECONDS
deb="${DEB:-}"
if [ -z "$deb" ]; then
  packaging/deb/build.sh "$arch"
  deb=$(ls build-deb-"$arch"/weir_*_"$arch".deb | tail -1)
fi
t_deb=$((SECONDS - t_start))

# --- the root filesystem ---------------------------------------------------------------------
rootfs="${ROOTFS:-/var/cache/weir-rootfs/$arch}"
mapfile -t runtime < <(package_list packaging/runtime-packages.txt)
include="$(IFS=,; echo "${runtime[*]},nats-server,passwd")"
want="mmdebstrap --variant=apt --architectures=$arch --include=$include bookworm"
t0=$SECONDS
if [ -f "$rootfs/.weir-rootfs" ] && [ "$(cat "$rootfs/.weir-rootfs")" = "$want" ]; then
  echo "rootfs: reusing $rootfs"
else
  rm -rf "$rootfs" "$rootfs.tmp"
  mkdir -p "$(dirname "$rootfs")"
  mmdebstrap --variant=apt --architectures="$arch" --include="$include" bookworm "$rootfs.tmp" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
  echo "$want" > "$rootfs.tmp/.weir-rootfs"
  mv "$rootfs.tmp" "$rootfs"
fi
t_rootfs=$((SECONDS - t0))

# --- the .deb first, in the pristine root filesystem: its Depends are met by the runtime list --
chroot "$rootfs" dpkg --purge weir >/dev/null 2>&1 || true
rm -rf "$rootfs/etc/weir" "$rootfs/usr/bin/weir" "$rootfs/usr/share/weir"  # a previous run's copies
cp "$deb" "$rootfs/tmp/weir.deb"
if out=$(chroot "$rootfs" dpkg -i /tmp/weir.deb 2>&1) && deb_version=$(chroot "$rootfs" weir version 2>&1); then
  deb_ok="installs and runs ($deb_version)"
else
  deb_ok="FAILED"
  deb_error="$out"
fi
chroot "$rootfs" dpkg --purge weir >/dev/null 2>&1 || true
rm -f "$rootfs/tmp/weir.deb"

# --- the image's files, as the Dockerfile puts them --------------------------------------------
stage=$(mktemp -d)
dpkg-deb -x "$deb" "$stage"
install -m 0755 "$stage/usr/bin/weir" "$rootfs/usr/bin/weir"
mkdir -p "$rootfs/usr/share/weir" "$rootfs/etc/weir" "$rootfs/etc/nats"
cp -r "$stage/usr/share/weir/." "$rootfs/usr/share/weir/"
install -m 0644 packaging/docker/weir.json "$rootfs/etc/weir/weir.json"
# compose's nats.conf, with each site's JetStream store in its own folder (one root filesystem here).
for site in a hub; do
  sed "s|^\( *store_dir:\).*|\1 /var/lib/nats-$site|" packaging/docker/nats.conf > "$rootfs/etc/nats/$site.conf"
done
rm -rf "$rootfs/etc/weir/site-a" "$rootfs/etc/weir/hub" "$rootfs/etc/weir/idle"
mkdir -p "$rootfs/etc/weir/site-a" "$rootfs/etc/weir/hub" "$rootfs/etc/weir/idle/flows"
cp -r examples/two-sites/site-a/flows "$rootfs/etc/weir/site-a/"
cp -r examples/two-sites/hub/flows "$rootfs/etc/weir/hub/"
chroot "$rootfs" id weir >/dev/null 2>&1 ||
  chroot "$rootfs" useradd --system --uid 10001 --user-group --home-dir /var/lib/weir \
    --shell /usr/sbin/nologin weir
for d in weir-a weir-hub weir-idle nats-a nats-hub; do
  rm -rf "${rootfs:?}/var/lib/$d"
  install -d -o 10001 -g 10001 -m 0750 "$rootfs/var/lib/$d"
done
# The compose services' names, as the compose network's DNS would answer them.
cat > "$rootfs/etc/hosts" <<'HOSTS'
127.0.0.1 localhost
10.99.0.1 nats-a weir-a
10.99.0.2 nats-hub weir-hub
HOSTS
rm -rf "$stage"
size=$(stat -c %s "$rootfs/usr/bin/weir")
# The list against this binary's DT_NEEDED, resolved in the root filesystem's own dpkg database.
packages_check=$(ROOT="$rootfs" packaging/runtime-packages.sh --check "$rootfs/usr/bin/weir" 2>&1) ||
  packages_failed=1

# --- two sites, two network namespaces -------------------------------------------------------
# /proc, as a container has it (the engine reads /proc/self for its metrics).
mountpoint -q "$rootfs/proc" || mount -t proc proc "$rootfs/proc"
ns_a=weir-rootfs-a
ns_hub=weir-rootfs-hub
pids=()
logs=$(mktemp -d)
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 2
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_hub" 2>/dev/null || true
  umount "$rootfs/proc" 2>/dev/null || true
}
trap cleanup EXIT
ip netns del "$ns_a" 2>/dev/null || true
ip netns del "$ns_hub" 2>/dev/null || true
ip netns add "$ns_a"
ip netns add "$ns_hub"
ip link add weir-veth-a netns "$ns_a" type veth peer name weir-veth-hub netns "$ns_hub"
ip -n "$ns_a" addr add 10.99.0.1/24 dev weir-veth-a
ip -n "$ns_hub" addr add 10.99.0.2/24 dev weir-veth-hub
for ns in "$ns_a" "$ns_hub"; do
  ip -n "$ns" link set lo up
done
ip -n "$ns_a" link set weir-veth-a up
ip -n "$ns_hub" link set weir-veth-hub up

# NS VAR=value... -- command: sets `cmd` to run the command in NS, chrooted, as weir, with only
# these variables (env, chroot and the command replace one another: one process in the end).
site_cmd() {
  local ns="$1"; shift
  local vars=()
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  cmd=(ip netns exec "$ns" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${vars[@]}"
       chroot --userspec=weir:weir "$rootfs" "$@")
}
in_site() { site_cmd "$@"; "${cmd[@]}"; }
start() {  # NAME NS VAR=value... -- command: in the background; its pid (the command's) in pids
  local name="$1"; shift
  site_cmd "$@"
  (exec "${cmd[@]}") > "$logs/$name.log" 2>&1 &
  pids+=($!)
}

token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
common=(WEIR_CONFIG=/etc/weir/weir.json WEIR_HTTP_LISTEN=0.0.0.0:8080 BRIDGE_TOKEN="$token")
start nats-a "$ns_a" -- nats-server -c /etc/nats/a.conf
start nats-hub "$ns_hub" -- nats-server -c /etc/nats/hub.conf
start weir-hub "$ns_hub" "${common[@]}" WEIR_NATS_URL=nats://nats-hub:4222 \
  WEIR_FLOWS_DIR=/etc/weir/hub/flows WEIR_DATA_DIR=/var/lib/weir-hub BRIDGE_LISTEN=0.0.0.0:8765 \
  -- weir run
start weir-a "$ns_a" "${common[@]}" WEIR_NATS_URL=nats://nats-a:4222 \
  WEIR_FLOWS_DIR=/etc/weir/site-a/flows WEIR_DATA_DIR=/var/lib/weir-a HUB_URL=ws://weir-hub:8765/bridge \
  -- weir run

failures=0
[ "$deb_ok" = FAILED ] && { echo "rootfs: FAIL dpkg -i: $deb_error"; failures=$((failures + 1)); }
[ -n "${packages_failed:-}" ] && { echo "rootfs: FAIL $packages_check"; failures=$((failures + 1)); }
fail() { echo "rootfs: FAIL $*"; failures=$((failures + 1)); }
wait_for() {  # SECONDS command...: until the command succeeds, or a started process has exited
  local until=$((SECONDS + $1)) p; shift
  while [ $SECONDS -lt $until ]; do
    "$@" >/dev/null 2>&1 && return 0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { echo "rootfs: process $p has exited"; return 1; }; done
    sleep 1
  done
  return 1
}
health() { in_site "$1" WEIR_CONFIG=/etc/weir/weir.json -- weir health -q; }

t0=$SECONDS
wait_for 180 health "$ns_a" && ready_a=$((SECONDS - t0)) || { fail "weir-a never became ready"; ready_a=-; }
wait_for 60 health "$ns_hub" && ready_hub=$((SECONDS - t0)) || { fail "weir-hub never became ready"; ready_hub=-; }
archive="$rootfs/var/lib/weir-hub/archive/sites.ndjson"
records() { [ -f "$archive" ] && wc -l < "$archive" || echo 0; }
enough() { [ "$(records)" -ge 200 ]; }
wait_for 120 enough || fail "the hub holds $(records) records after 120 s; want 200"
sleep 5
# A snapshot of the complete lines (the file keeps growing).
snapshot=$(mktemp)
held=$(records)
head -n "$held" "$archive" > "$snapshot" 2>/dev/null || true
unique=$(sort -u "$snapshot" | wc -l)
[ "$held" -gt 0 ] && [ "$unique" -eq "$held" ] || fail "the hub holds $held records, $unique distinct"
from_site=$(grep -c '"device":"dev-' "$snapshot" || true)
[ "$from_site" -eq "$held" ] || fail "$from_site of $held records look like site A's readings"
rm -f "$snapshot"
health_json=$(in_site "$ns_a" WEIR_CONFIG=/etc/weir/weir.json -- weir health 2>&1 || true)

# Idle: an engine with no flows, and qemu alone, after 10 s.
start weir-idle "$ns_hub" WEIR_CONFIG=/etc/weir/weir.json WEIR_HTTP_LISTEN=127.0.0.1:8090 \
  WEIR_NATS_URL=nats://nats-hub:4222 WEIR_FLOWS_DIR=/etc/weir/idle/flows WEIR_DATA_DIR=/var/lib/weir-idle \
  -- weir run
idle_pid=${pids[-1]}
start sleep "$ns_hub" -- sleep 600
sleep_pid=${pids[-1]}
wait_for 120 in_site "$ns_hub" -- weir health -q --api 127.0.0.1:8090 || fail "the idle engine never became ready"
sleep 10
rss_kb() {  # the process chrooted under PID (ip netns exec, env and chroot exec in place)
  awk '/^VmRSS/ {print $2}' "/proc/$1/status"
}
idle_rss=$(rss_kb "$idle_pid")
qemu_rss=$(rss_kb "$sleep_pid")
hub_rss=$(rss_kb "${pids[2]}")
# What the engine reports of itself (/proc/self/statm, which qemu passes through).
own_rss=$(ip netns exec "$ns_hub" curl -sf http://127.0.0.1:8090/metrics |
  awk '$1 == "process_resident_memory_bytes" {printf "%d", $2 / 1024}')

total=$((SECONDS - t_start))
echo
echo "== rootfs check ($arch, $(date -u +%Y-%m-%dT%H:%MZ)) =="
echo "root filesystem:  $rootfs, $(du -shx "$rootfs" | cut -f1), mmdebstrap --variant=apt + runtime-packages.txt ($(echo "${runtime[*]}")) + nats-server, passwd"
echo "binary:           /usr/bin/weir $(file -b "$rootfs/usr/bin/weir" | cut -d, -f1-2), stripped $size bytes"
echo "packages:         ${packages_check#runtime-packages.txt }"
echo "nats-server:      $(chroot "$rootfs" nats-server --version 2>&1)"
echo "ready:            weir-a after ${ready_a} s, weir-hub after ${ready_hub} s (weir health exit 0)"
echo "bridge:           the hub holds $held records from site A, $unique distinct"
echo "weir health:      $(tr -d '\n' <<<"$health_json" | cut -c1-160)"
echo "idle RSS:         engine with no flows ${idle_rss} kB under qemu (its own /metrics: ${own_rss:-?} kB; qemu running sleep: ${qemu_rss} kB); hub engine ${hub_rss} kB"
echo ".deb:             $(basename "$deb") $deb_ok with dpkg in the root filesystem"
echo "timings:          deb ${t_deb} s, rootfs ${t_rootfs} s, total ${total} s"
if [ "$failures" -ne 0 ]; then
  for f in "$logs"/*.log; do echo "--- $f"; tail -20 "$f"; done
  echo "rootfs check: $failures failed"
  exit 1
fi
echo "rootfs check: passed"
rm -rf "$logs"
