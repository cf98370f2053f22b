#!/usr/bin/env bash
# Builds weir's image from packaging/docker/Dockerfile with podman and runs it (root needed; run
# by hand, not in CI: the build compiles weir, 10 to 30 minutes on 2 cores):
#   packaging/docker/check.sh
# 1. The base images the Dockerfile names (debian:bookworm, debian:bookworm-slim) are made here
#    with mmdebstrap and `podman import`, once: they are kept and reused while they exist.
# 2. A stand-in for the compose file's NATS image (no registry here): Debian's nats-server on the
#    local base, tagged nats:2.10-alpine (packaging/docker/nats-standin.Containerfile).
# 3. podman build --format docker (the OCI format drops HEALTHCHECK) of the Dockerfile, as weir:0.1.0.
# 4. Checks on the image: `weir version`; the user (weir, uid 10001); the HEALTHCHECK command;
#    the engine run as compose runs it (read-only root filesystem, the compose file's tmpfs,
#    cap_drop ALL, no-new-privileges, flows mounted read-only, NATS found by the name `nats` on a
#    network of its own) serves /ready with the demo flow running, the HEALTHCHECK passes, and
#    nothing but /tmp and the data volume is writable; the engine's RSS idle and with the demo flow.
# Prints the time of each step and the image's size; exits non-zero at the first failed check.
# Removes what it made (containers, network, volume, the weir image unless KEEP_IMAGE=1); keeps
# the base images and the NATS stand-in, and podman's build cache (`podman image prune` drops it).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
source packaging/docker/podman-lib.sh

image="${WEIR_IMAGE:-localhost/weir:0.1.0}"
nats_image="docker.io/library/nats:2.10-alpine"
id="weir-check-$$"
port="${CHECK_PORT:-18080}"
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
made_containers=()
made_network=""
made_volumes=()
cleanup() {
  local c v
  for c in "${made_containers[@]}"; do pm rm -f -t 5 "$c" >/dev/null 2>&1 || true; done
  [ -n "$made_network" ] && { pm network rm -f "$made_network" >/dev/null 2>&1 || true; }
  for v in "${made_volumes[@]}"; do pm volume rm -f "$v" >/dev/null 2>&1 || true; done
  if [ "${KEEP_IMAGE:-0}" != 1 ] && [ "${built_image:-0}" = 1 ]; then
    pm rmi "$image" >/dev/null 2>&1 || true
  fi
  rm -f "${podman_conf:-}" "${flows_empty:+$flows_empty/.keep}"
  [ -n "${flows_empty:-}" ] && rmdir "$flows_empty" 2>/dev/null
  return 0
}
trap cleanup EXIT
ok() { echo "ok   $*"; }

t_all=$SECONDS
step "prerequisites"
podman_prereqs curl jq
echo "$(podman --version), $(runc --version | head -1), storage $(pm info --format '{{.Store.GraphDriverName}}'), network $(pm info --format '{{.Host.NetworkBackend}}')"
step_done prerequisites

step "base images (mmdebstrap, kept once made)"
make_base amd64 bookworm
make_base amd64 bookworm-slim slim
step_done "base images"

step "NATS stand-in"
make_nats_standin
step_done "nats stand-in"

step "podman build $image"
build_log=$(mktemp)
if ! "${idle[@]}" podman --runtime runc build --format docker \
    --ulimit "nofile=$WEIR_ULIMIT_NOFILE:$WEIR_ULIMIT_NOFILE" --ulimit "nproc=$WEIR_ULIMIT_NPROC:$WEIR_ULIMIT_NPROC" \
    -f packaging/docker/Dockerfile -t "$image" . >"$build_log" 2>&1; then
  tail -40 "$build_log"
  rm -f "$build_log"
  die "podman build failed (the last lines of its output are above)"
fi
built_image=1
grep -E '^(STEP|COMMIT|--> Using cache)' "$build_log" | sed 's/^/  /' | cut -c1-150
rm -f "$build_log"
size=$(pm image inspect --format '{{.Size}}' "$image")
echo "image $image: $size bytes ($((size / 1000000)) MB)"
step_done "build"

step "the image"
out=$(pm_run --rm --no-healthcheck "$image" version) || die "weir version: exit $?: $out"
grep -qE '^weir [0-9]' <<<"$out" || die "weir version printed: $out"
ok "weir version: $out"
user=$(pm image inspect --format '{{.Config.User}}' "$image")
[ "$user" = weir ] || die "the image's USER is '$user', not weir"
out=$(pm_run --rm --no-healthcheck --entrypoint id "$image")
[ "$out" = "uid=10001(weir) gid=10001(weir) groups=10001(weir)" ] || die "id in the image: $out"
ok "runs as $out"
hc=$(pm image inspect --format '{{json .Config.Healthcheck}}' "$image")
[ "$(jq -c .Test <<<"$hc")" = '["CMD","weir","health","-q"]' ] || die "the image's HEALTHCHECK is $hc"
ok "HEALTHCHECK $(jq -c '{Test, Interval, Timeout, StartPeriod, Retries}' <<<"$hc")"
step_done "image checks"

# What compose.yaml gives the weir service, read from the file rather than copied here.
compose=packaging/docker/compose.yaml
tmpfs_spec=$(sed -n '/^  weir:/,/^volumes:/p' "$compose" | grep -oE '^\s+- /tmp:[^ ]+' | sed -E 's/^\s+- //')
[ -n "$tmpfs_spec" ] || die "no tmpfs for /tmp under the weir service in $compose"
sed -n '/^  weir:/,/^volumes:/p' "$compose" | grep -qE '^\s+read_only: true' || die "$compose: weir is not read_only"
tmpfs_size=${tmpfs_spec#*size=}
hardening=(--read-only --tmpfs "$tmpfs_spec" --cap-drop ALL --security-opt no-new-privileges)

step "NATS and the engine on a network (read-only root, tmpfs $tmpfs_spec)"
made_network="$id"
pm network create "$made_network" >/dev/null
pm_run -d --name "$id-nats" --network "$made_network" --network-alias nats --read-only --tmpfs /data \
  -v "$root/packaging/docker/nats.conf:/etc/nats/weir.conf:ro" "$nats_image" \
  nats-server --config /etc/nats/weir.conf >/dev/null
made_containers+=("$id-nats")
made_volumes+=("$id-data")
pm volume create "$id-data" >/dev/null
# The image's own config (/etc/weir/weir.json: NATS at nats://nats:4222) with compose's variables.
pm_run -d --name "$id-weir" --network "$made_network" "${hardening[@]}" \
  -e WEIR_HTTP_TOKEN="$token" -e WEIR_SHUTDOWN_TIMEOUT=20s \
  -v "$root/flows:/etc/weir/flows:ro" -v "$id-data:/var/lib/weir" \
  -p "127.0.0.1:$port:8080" "$image" >/dev/null
made_containers+=("$id-weir")
ready=""
for _ in $(seq 1 60); do
  if ready=$(curl -sf "http://127.0.0.1:$port/ready"); then break; fi
  ready=""
  sleep 1
done
if [ -z "$ready" ]; then
  pm logs "$id-weir" 2>&1 | tail -20
  die "the engine did not answer /ready with 200 within 60 s (its log is above)"
fi
ok "/ready after $((SECONDS - t_step)) s"
jq -e '.bus.state == "connected"' <<<"$ready" >/dev/null || die "/ready: not connected to NATS: $ready"
jq -e '[.flows[] | select(.name == "demo" and .state == "running")] | length == 1' <<<"$ready" >/dev/null ||
  die "/ready: the demo flow is not running: $ready"
ok "/ready: bus connected, demo flow running"
step_done "engine ready"

step "HEALTHCHECK, filesystem, privileges"
# podman runs HEALTHCHECKs from systemd timers, and there is no systemd here: run it by hand.
if ! out=$(pm healthcheck run "$id-weir" 2>&1); then die "podman healthcheck run: $out"; fi
ok "podman healthcheck run: ${out:-healthy} (weir health -q, exit 0)"
status=$(pm inspect --format '{{.State.Health.Status}}' "$id-weir")
[ "$status" = healthy ] || die "health status after a passing check: $status"
ok "health status: $status"
mounts=$(pm exec "$id-weir" cat /proc/mounts)
grep -qE '^\S+ / \S+ ro[,\s]' <<<"$mounts" || die "the root filesystem is not mounted read-only: $(grep -E '^\S+ / ' <<<"$mounts")"
ok "root filesystem read-only: $(grep -E '^\S+ / ' <<<"$mounts" | cut -d' ' -f3,4 | cut -c1-40)"
tmp_line=$(grep -E '^\S+ /tmp tmpfs ' <<<"$mounts") || die "/tmp is not a tmpfs: $mounts"
kb=$(grep -oE 'size=[0-9]+k' <<<"$tmp_line" | tr -dc 0-9)
want_kb=$(numfmt --from=iec "${tmpfs_size^^}" 2>/dev/null || true)
{ [ -n "$want_kb" ] && [ "$kb" -eq $((want_kb / 1024)) ]; } || die "/tmp is '$tmp_line', the compose file says size=$tmpfs_size"
ok "/tmp: tmpfs size=${kb}k (compose: size=$tmpfs_size)"
grep -qE '^\S+ /etc/weir/flows \S+ ro[,\s]' <<<"$mounts" || die "/etc/weir/flows is not mounted read-only"
ok "/etc/weir/flows mounted read-only"
for p in /usr/bin/weir-probe /etc/weir/probe /var/probe /etc/weir/flows/probe.json; do
  if pm exec "$id-weir" sh -c ": > $p" 2>/dev/null; then die "$p could be written"; fi
done
ok "writes refused: /usr/bin, /etc/weir, /var, /etc/weir/flows"
pm exec "$id-weir" sh -c ': > /tmp/probe && rm /tmp/probe && : > /var/lib/weir/probe && rm /var/lib/weir/probe' ||
  die "/tmp or /var/lib/weir is not writable by weir"
pm exec "$id-weir" test -s /var/lib/weir/weir.db || die "no /var/lib/weir/weir.db: the engine's state is not on the volume"
ok "/tmp and /var/lib/weir (the volume, holding weir.db) writable by weir"
caps=$(pm exec "$id-weir" grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/1/status | tr -s '\t ' ' ' | tr '\n' ' ')
{ grep -q 'CapEff: 0000000000000000' <<<"$caps" && grep -q 'NoNewPrivs: 1' <<<"$caps"; } || die "privileges: $caps"
ok "engine (pid 1): $caps"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' --data-binary @flows/demo.json "http://127.0.0.1:$port/api/v1/flows/demo")
[ "$code" = 409 ] || die "PUT of a flow with the flows folder read-only answered $code, not 409"
ok "PUT /api/v1/flows/demo with the folder read-only: 409"
step_done "healthcheck, filesystem"

step "RSS with the demo flow, then idle"
sleep 20
demo_hot=$(pm exec "$id-weir" sh -c 'wc -l < /var/lib/weir/demo/hot.ndjson' 2>/dev/null || echo 0)
[ "$demo_hot" -gt 0 ] || die "the demo flow wrote nothing to /var/lib/weir/demo/hot.ndjson"
rss_demo=$(pm exec "$id-weir" grep -E '^Vm(RSS|HWM)' /proc/1/status | tr -s '\t ' ' ' | tr '\n' ' ')
ok "demo flow running $((SECONDS - t_step)) s, $demo_hot hot records written: $rss_demo"
pm rm -f -t 20 "$id-weir" >/dev/null 2> >(grep -v 'unable to get systemd connection to .* healthchecks' >&2)
flows_empty=$(mktemp -d)
chmod 755 "$flows_empty"
pm_run -d --name "$id-weir" --network "$made_network" "${hardening[@]}" \
  -v "$flows_empty:/etc/weir/flows:ro" -v "$id-data:/var/lib/weir" "$image" >/dev/null
for _ in $(seq 1 30); do pm exec "$id-weir" weir health -q 2>/dev/null && break; sleep 1; done
pm exec "$id-weir" weir health -q || die "the engine with no flows is not ready"
sleep 10
rss_idle=$(pm exec "$id-weir" grep -E '^Vm(RSS|HWM)' /proc/1/status | tr -s '\t ' ' ' | tr '\n' ' ')
ok "no flows, 10 s after ready: $rss_idle"
step_done "rss"

echo "== summary (packaging/docker/check.sh, $(date -u +%Y-%m-%dT%H:%MZ))"
echo "  $(podman --version) with $(runc --version | head -1); NATS: a stand-in (Debian nats-server $(pm_run --rm "$nats_image" nats-server --version | grep -oE 'v[0-9.]+'))"
echo "  image $image: $size bytes"
echo "  engine RSS: demo flow $rss_demo; idle $rss_idle"
print_times
echo "  total $((SECONDS - t_all)) s"
echo "docker check: passed"
