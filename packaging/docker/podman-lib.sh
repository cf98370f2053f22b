# shellcheck shell=bash
# Shared by packaging/docker/check.sh, compose_check.sh and multiarch.sh (source it; bash).
# Runs weir's container files with Debian's podman (4.3) on a machine with no registry: the base
# images are made here with mmdebstrap and tagged with the names the Dockerfile and the compose
# files use. Needs root. Heavy commands run at idle priority (nice 19, ionice idle) unless
# WEIR_NICE=0, so a build shares the machine with other work.

# shellcheck source=packaging/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# Engine settings for this machine class, passed to every `podman` call here and to the API
# service: runc (Debian's crun refuses a hybrid cgroup layout), and limits no higher than the
# hard ones this process has (podman's defaults ask for more, which fails in a sandbox; here an
# nproc of 65536 was refused though the hard limit is higher, 4096 is far above pids_limit).
WEIR_ULIMIT_NOFILE="${WEIR_ULIMIT_NOFILE:-$(ulimit -Hn)}"
WEIR_ULIMIT_NPROC="${WEIR_ULIMIT_NPROC:-4096}"
podman_conf=""   # a containers.conf with the same settings, for `podman system service`

idle=(nice -n 19 ionice -c3)
[ "${WEIR_NICE:-1}" = 0 ] && idle=()

step_times=()   # "name seconds", printed by print_times
t_step=0
step() { t_step=$SECONDS; echo "== $* ($(date -u +%H:%M:%S))"; }
step_done() { step_times+=("$1 $((SECONDS - t_step))"); }
print_times() { local s; for s in "${step_times[@]}"; do printf '  %-36s %5s s\n' "${s% *}" "${s##* }"; done; }
die() { echo "FAIL: $*" >&2; exit 1; }

podman_prereqs() {
  [ "$(id -u)" -eq 0 ] || die "run as root (podman with runc and netavark as root)"
  apt_install_missing podman runc mmdebstrap uidmap netavark aardvark-dns "$@"
  podman_conf=$(mktemp --suffix=.conf)
  cat > "$podman_conf" <<CONF
[containers]
default_ulimits = ["nofile=$WEIR_ULIMIT_NOFILE:$WEIR_ULIMIT_NOFILE", "nproc=$WEIR_ULIMIT_NPROC:$WEIR_ULIMIT_NPROC"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  export CONTAINERS_CONF="$podman_conf"
}

pm() { podman --runtime runc "$@"; }

# Runs as pm run, with this machine's limits. podman 4.3 schedules a container's HEALTHCHECK with
# systemd timers and logs an error when there is no systemd (as here): that line is left out;
# the scripts run the checks themselves (`podman healthcheck run`).
pm_run() {
  pm run --ulimit "nofile=$WEIR_ULIMIT_NOFILE:$WEIR_ULIMIT_NOFILE" --ulimit "nproc=$WEIR_ULIMIT_NPROC:$WEIR_ULIMIT_NPROC" \
    "$@" 2> >(grep -v 'unable to get systemd connection to .* healthchecks' >&2)
}

# make_base ARCH TAG SLIM: a Debian 12 image for ARCH tagged docker.io/library/debian:TAG, made with
# mmdebstrap --variant=minbase (what Debian's official images are), unless it exists already.
# SLIM=slim drops docs, man pages and locales as debian:*-slim does (its dpkg path-excludes).
make_base() {
  local arch="$1" slim="${3:-}" name="docker.io/library/debian:$2" opts=() tmp
  if pm image exists "$name"; then
    echo "base image $name: cached ($(pm image inspect --format '{{.Architecture}}' "$name"))"
    return 0
  fi
  if [ "$slim" = slim ]; then
    opts+=(--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
           --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
           --dpkgopt='path-exclude=/usr/share/groff/*' --dpkgopt='path-exclude=/usr/share/lintian/*'
           --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias')
  fi
  tmp=$(mktemp -d)
  echo "base image $name: mmdebstrap --variant=minbase --architectures=$arch bookworm ${slim:+(slim)}"
  # merged-usr: /usr merged by the hook, as Debian's images are, not by the usrmerge package
  # (which pulls in perl, 46 MB).
  # shellcheck disable=SC2016 # "$1" is the hook's: mmdebstrap passes it the root filesystem
  "${idle[@]}" mmdebstrap --quiet --variant=minbase --architectures="$arch" "${opts[@]}" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --aptopt='Acquire::Languages "none"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$tmp/rootfs.tar" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" >"$tmp/mmdebstrap.log" 2>&1 ||
    { tail -30 "$tmp/mmdebstrap.log"; rm -rf "$tmp"; die "mmdebstrap failed for $name (the last lines of its output are above)"; }
  pm import --quiet --arch "$arch" --os linux \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' --message "mmdebstrap bookworm $arch ${slim}" \
    "$tmp/rootfs.tar" "$name" >/dev/null || { rm -rf "$tmp"; die "podman import failed for $name"; }
  rm -rf "$tmp"
  echo "base image $name: made, $(pm image inspect --format '{{.Size}}' "$name") bytes"
}

# make_nats_standin [ARCH]: the compose files' NATS image, nats:2.10-alpine, cannot be pulled
# here: builds packaging/docker/nats-standin.Containerfile (Debian's nats-server on the local
# base) under that name, unless an image there already carries the stand-in's label.
make_nats_standin() {
  local name="docker.io/library/nats:2.10-alpine" label
  label=$(pm image inspect --format '{{index .Labels "org.opencontainers.image.description"}}' "$name" 2>/dev/null || true)
  if [[ "$label" == *stand-in* ]]; then
    echo "STAND-IN $name: cached, Debian's nats-server on the local base (no registry here)"
    return 0
  fi
  pm image exists "$name" && die "$name exists and is not this script's stand-in: remove it or run where the real one is wanted"
  echo "STAND-IN $name: building Debian's nats-server on the local base (the upstream image cannot be pulled here)"
  "${idle[@]}" podman --runtime runc build --quiet --format docker \
    --ulimit "nofile=$WEIR_ULIMIT_NOFILE:$WEIR_ULIMIT_NOFILE" --ulimit "nproc=$WEIR_ULIMIT_NPROC:$WEIR_ULIMIT_NPROC" \
    -f "$(dirname "${BASH_SOURCE[0]}")/nats-standin.Containerfile" -t "$name" "$(dirname "${BASH_SOURCE[0]}")" >/dev/null ||
    die "building the NATS stand-in failed"
  echo "STAND-IN $name: $(pm_run --rm "$name" nats-server --version)"
}
