#!/usr/bin/env bash
# Brings weir's compose files up for real with Debian's docker-compose (1.29) against podman's
# Docker-compatible API (`podman system service` on a socket of its own), and checks them (root
# needed; run by hand, not in CI: it may build the image, 10 to 30 minutes on 2 cores):
#   packaging/docker/compose_check.sh
# packaging/docker/compose.yaml: `docker-compose build` (through the API), `up -d`; both services
#   healthy; the demo flow's records arrive, counted: after a graceful stop, the lines of
#   demo/hot.ndjson are exactly the hot records the engine logged (json_map's in and out, the
#   file's in), each once, each hot and converted right; the engine's RSS with the demo flow; `down -v` leaves no container,
#   network or volume of the project.
# examples/two-sites/compose.yaml: `up -d`; four services healthy; records from site A reach the
#   hub; the hub's container restarted mid-stream (`docker-compose restart weir-hub`); then site A
#   stopped gracefully: every record site A's filter passed on is at the hub once (every line at
#   the hub counted, duplicates included); `down -v` leaves nothing.
# The base images and the NATS image are made here as packaging/docker/check.sh does: the NATS
# image is a STAND-IN (Debian's nats-server under the name nats:2.10-alpine; no registry here).
# podman 4.3 runs HEALTHCHECKs from systemd timers, and there is no systemd here: this script
# runs `podman healthcheck run` for each of the project's containers at the interval the
# container declares, as Docker's daemon would. Exits non-zero at the first failed check.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
source packaging/docker/podman-lib.sh

project_one="weircheck$$"
project_two="weirtwo$$"
service_pid=""
scheduler_pid=""
sockdir=""
cleanup() {
  set +e
  if [ -n "$sockdir" ] && [ -S "$sockdir/podman.sock" ]; then
    (cd "$root/packaging/docker" && docker-compose -p "$project_one" down -v -t 5 >/dev/null 2>&1)
    (cd "$root/examples/two-sites" && BRIDGE_TOKEN=x docker-compose -p "$project_two" down -v -t 5 >/dev/null 2>&1)
  fi
  local p
  for p in "$project_one" "$project_two"; do
    pm ps -aq --filter "label=com.docker.compose.project=$p" | xargs -r podman --runtime runc rm -f >/dev/null 2>&1
    pm volume ls -q --filter "label=com.docker.compose.project=$p" | xargs -r podman volume rm -f >/dev/null 2>&1
    pm network ls -q --filter "label=com.docker.compose.project=$p" | xargs -r podman network rm -f >/dev/null 2>&1
  done
  [ -n "$scheduler_pid" ] && kill "$scheduler_pid" 2>/dev/null
  [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null
  if [ "${KEEP_IMAGE:-0}" != 1 ] && [ "${built_image:-0}" = 1 ]; then
    pm rmi localhost/weir:0.1.0 >/dev/null 2>&1
  fi
  [ -n "$sockdir" ] && rm -rf "$sockdir"
  rm -f "${podman_conf:-}"
  return 0
}
trap cleanup EXIT
ok() { echo "ok   $*"; }

# health_scheduler PROJECT...: runs each running container's HEALTHCHECK of these projects when due.
health_scheduler() {
  declare -A last=() every=()
  local c now iv
  while true; do
    now=$(date +%s)
    for c in $(for p in "$@"; do pm ps -q --filter "label=com.docker.compose.project=$p"; done); do
      if [ -z "${every[$c]:-}" ]; then
        # Nanoseconds as JSON; null or 0: the container declares no HEALTHCHECK.
        iv=$(pm inspect --format '{{json .Config.Healthcheck}}' "$c" 2>/dev/null | jq -r '.Interval // 0' 2>/dev/null)
        [[ "$iv" =~ ^[0-9]+$ ]] || iv=0
        iv=$((iv / 1000000000))
        every[$c]=$iv
        last[$c]=0
      fi
      [ "${every[$c]}" -gt 0 ] || continue
      if [ $((now - last[$c])) -ge "${every[$c]}" ]; then
        last[$c]=$now
        pm healthcheck run "$c" >/dev/null 2>&1 &
      fi
    done
    sleep 1
  done
}

# wait_healthy SECONDS PROJECT SERVICE...: each service's container reports "healthy".
wait_healthy() {
  local limit="$1" project="$2" s status all t0=$SECONDS
  shift 2
  while [ $((SECONDS - t0)) -lt "$limit" ]; do
    all=1
    for s in "$@"; do
      status=$(pm ps --filter "label=com.docker.compose.project=$project" \
        --filter "label=com.docker.compose.service=$s" --format '{{.Status}}' | head -1)
      [[ "$status" == *"(healthy)"* ]] || all=0
    done
    [ "$all" = 1 ] && return 0
    sleep 2
  done
  for s in "$@"; do
    echo "  $s: $(pm ps -a --filter "label=com.docker.compose.project=$project" \
      --filter "label=com.docker.compose.service=$s" --format '{{.Status}}')"
  done
  return 1
}

# left_over PROJECT: what of the project is still there (containers, networks, volumes).
left_over() {
  {
    pm ps -a --filter "label=com.docker.compose.project=$1" --format 'container {{.Names}} {{.Status}}'
    pm network ls --filter "label=com.docker.compose.project=$1" --format 'network {{.Name}}'
    pm volume ls --filter "label=com.docker.compose.project=$1" --format 'volume {{.Name}}'
  } | sed '/^$/d'
}

# logged COUNT_LOG FLOW COMPONENT FIELD: from the engine's log at a flow's stop,
# "[flow/component] records in N, out M, ...": FIELD is in or out.
logged() {
  grep -oE "\[$2/$3\] records in [0-9]+, out [0-9]+" "$1" | tail -1 |
    sed -E "s/.*records in ([0-9]+), out ([0-9]+)/\\$([ "$4" = in ] && echo 1 || echo 2)/"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

t_all=$SECONDS
step "prerequisites"
podman_prereqs docker-compose curl jq
for p in 8080 8222 8081 8082; do
  port_free "$p" || die "127.0.0.1:$p is in use: the compose files publish it"
done
sockdir=$(mktemp -d)
podman --runtime runc system service --time=0 "unix://$sockdir/podman.sock" >"$sockdir/service.log" 2>&1 &
service_pid=$!
export DOCKER_HOST="unix://$sockdir/podman.sock"
for _ in $(seq 1 30); do [ -S "$sockdir/podman.sock" ] && curl -sf --unix-socket "$sockdir/podman.sock" http://d/_ping >/dev/null && break; sleep 0.5; done
api=$(curl -sf --unix-socket "$sockdir/podman.sock" http://d/version) || die "podman system service does not answer on $sockdir/podman.sock"
echo "$(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /') against podman $(jq -r .Version <<<"$api") (Docker API $(jq -r .ApiVersion <<<"$api")), runtime runc"
health_scheduler "$project_one" "$project_two" &
scheduler_pid=$!
step_done prerequisites

step "base images and the NATS stand-in"
make_base amd64 bookworm
make_base amd64 bookworm-slim slim
make_nats_standin
step_done "base images, nats stand-in"

# ---------------------------------------------------------------------------------------------
cd "$root/packaging/docker"
export WEIR_HTTP_TOKEN BRIDGE_TOKEN
WEIR_HTTP_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
BRIDGE_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
dc1() { docker-compose -p "$project_one" "$@"; }

step "packaging/docker: docker-compose build"
pm image exists localhost/weir:0.1.0 && echo "weir:0.1.0 exists already: this build should come from podman's cache"
"${idle[@]}" docker-compose -p "$project_one" build weir >"$sockdir/build.log" 2>&1 ||
  { tail -30 "$sockdir/build.log"; die "docker-compose build failed (the last lines are above)"; }
built_image=1
grep -cE 'Using cache' "$sockdir/build.log" | sed 's/^/  build steps from the cache: /'
echo "image weir:0.1.0: $(pm image inspect --format '{{.Size}}' localhost/weir:0.1.0) bytes"
step_done "compose build"

step "packaging/docker: docker-compose up -d"
dc1 up -d 2>&1 | sed 's/^/  /'
step_done "compose up (one device)"
step "packaging/docker: both services healthy"
wait_healthy 180 "$project_one" nats weir || die "packaging/docker/compose.yaml: nats and weir are not both healthy after 180 s"
dc1 ps | sed 's/^/  /'
ok "nats and weir healthy"
ready=$(curl -sf http://127.0.0.1:8080/ready) || die "/ready on 127.0.0.1:8080 (the published port) does not answer 200"
jq -e '.bus.state == "connected" and ([.flows[] | select(.name == "demo" and .state == "running")] | length == 1)' \
  <<<"$ready" >/dev/null || die "/ready: $ready"
ok "/ready on the published port: bus connected, the demo flow running"
out=$(dc1 exec -T weir weir health) || die "docker-compose exec weir weir health: exit $?: $out"
ok "docker-compose exec weir weir health: exit 0"
curl -sf http://127.0.0.1:8222/healthz >/dev/null || die "NATS monitoring on 127.0.0.1:8222 does not answer"
ok "NATS monitoring published on 127.0.0.1:8222"
# What the compose file asks of the engine, as the container engine applied it.
weir_ctr=$(dc1 ps -q weir)
nats_ctr=$(dc1 ps -q nats)
applied=$(pm inspect --format '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.ReadonlyRootfs}} {{.Config.User}}' "$weir_ctr")
[ "$applied" = "268435456 1500000000 256 true weir" ] ||
  die "weir's container has memory, CPUs, pids limit, read-only root, user: $applied (compose.yaml: 256m, 1.5, 256, true, the image's weir)"
ok "weir: mem_limit 256m, cpus 1.5, pids_limit 256, read_only, user weir applied"
applied=$(pm inspect --format '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.ReadonlyRootfs}}' "$nats_ctr")
[ "$applied" = "536870912 1000000000 256 true" ] ||
  die "nats's container has memory, CPUs, pids limit, read-only root: $applied (compose.yaml: 512m, 1.0, 256, true)"
ok "nats: mem_limit 512m, cpus 1.0, pids_limit 256, read_only applied"
for c in "$weir_ctr" "$nats_ctr"; do
  caps=$(pm exec "$c" grep -E '^(CapEff|NoNewPrivs)' /proc/1/status | tr -s '\t ' ' ' | tr '\n' ' ')
  { grep -q 'CapEff: 0000000000000000' <<<"$caps" && grep -q 'NoNewPrivs: 1' <<<"$caps"; } ||
    die "$(pm inspect --format '{{.Name}}' "$c"): $caps (cap_drop ALL and no-new-privileges asked)"
done
ok "both: no capabilities (cap_drop ALL), no-new-privileges"
step_done "healthy (one device)"

step "packaging/docker: the demo flow's records"
sleep 30
rss_demo=$(pm exec "$weir_ctr" grep -E '^Vm(RSS|HWM)' /proc/1/status | tr -s '\t ' ' ' | tr '\n' ' ')
ok "engine RSS with the demo flow (running $((SECONDS - t_step)) s): $rss_demo"
dc1 stop -t 30 weir 2>&1 | sed 's/^/  /'
dc1 logs --no-color weir >"$sockdir/weir.log" 2>&1
generated=$(logged "$sockdir/weir.log" demo sensors out)
# json_filter's "out" counts both its ports (out and rejected): the hot ones are what the next
# component took in.
hot=$(logged "$sockdir/weir.log" demo fahrenheit in)
converted=$(logged "$sockdir/weir.log" demo fahrenheit out)
written=$(logged "$sockdir/weir.log" demo file in)
{ [ -n "$generated" ] && [ -n "$written" ]; } || { tail -20 "$sockdir/weir.log"; die "the engine did not log its flow's counts at stop"; }
echo "  engine log at stop: sensors out $generated, fahrenheit in $hot and out $converted, file in $written"
pm_run --rm -v "${project_one}_weir-data:/d:ro" docker.io/library/debian:bookworm-slim \
  cat /d/demo/hot.ndjson >"$sockdir/hot.ndjson" || die "no demo/hot.ndjson in the weir-data volume"
lines=$(wc -l <"$sockdir/hot.ndjson")
distinct=$(jq -c .seq "$sockdir/hot.ndjson" | sort -u | wc -l)
wrong=$(jq -c 'select((.value > 50 | not) or ((.value_f - (.value * 9 / 5 + 32)) | fabs) > 0.001)' "$sockdir/hot.ndjson" | wc -l)
echo "  demo/hot.ndjson: $lines lines, $distinct distinct seq, $wrong not hot or not converted right"
{ [ "$generated" -gt 0 ] && [ "$hot" -gt 0 ]; } || die "the demo flow generated $generated records, $hot hot"
{ [ "$lines" -eq "$hot" ] && [ "$converted" -eq "$hot" ] && [ "$written" -eq "$hot" ]; } ||
  die "records lost or added: $hot hot, $converted converted, $written to the file, $lines lines in it"
[ "$distinct" -eq "$lines" ] || die "demo/hot.ndjson holds $lines lines, $distinct distinct"
[ "$wrong" -eq 0 ] || die "$wrong records in demo/hot.ndjson are not hot or not converted right"
ok "demo flow: $generated generated, $hot hot, all $hot in demo/hot.ndjson once each"
step_done "demo records"

step "packaging/docker: docker-compose down -v"
dc1 down -v -t 30 2>&1 | sed 's/^/  /'
left=$(left_over "$project_one")
[ -z "$left" ] || die "after docker-compose down: $left"
ok "nothing of the project is left (containers, networks, volumes)"
step_done "compose down (one device)"

# ---------------------------------------------------------------------------------------------
cd "$root/examples/two-sites"
dc2() { docker-compose -p "$project_two" "$@"; }
archive() { dc2 exec -T weir-hub sh -c 'cat /var/lib/weir/archive/sites.ndjson 2>/dev/null'; }
held() { archive | wc -l; }

step "examples/two-sites: docker-compose up -d"
dc2 up -d 2>&1 | sed 's/^/  /'
step_done "compose up (two sites)"
step "examples/two-sites: four services healthy"
wait_healthy 240 "$project_two" nats-a nats-hub weir-a weir-hub || die "examples/two-sites: not all healthy after 240 s"
dc2 ps | sed 's/^/  /'
ok "nats-a, weir-a, nats-hub, weir-hub healthy"
step_done "healthy (two sites)"

step "examples/two-sites: records reach the hub; the hub restarted mid-stream"
t0=$SECONDS
until [ "$(held)" -ge 300 ]; do
  [ $((SECONDS - t0)) -lt 120 ] || die "the hub holds $(held) records after 120 s; want 300"
  sleep 2
done
before=$(held)
ok "the hub holds $before records after $((SECONDS - t0)) s"
hub_started=$(pm inspect --format '{{.State.StartedAt}}' "$(dc2 ps -q weir-hub)")
dc2 restart -t 30 weir-hub 2>&1 | sed 's/^/  /'
[ "$(pm inspect --format '{{.State.StartedAt}}' "$(dc2 ps -q weir-hub)")" != "$hub_started" ] ||
  die "weir-hub's container was not restarted (same start time)"
dc2 logs --no-color weir-hub 2>&1 | grep -q '\] flow stopped' || die "weir-hub's log shows no stop of its flow before the restart"
wait_healthy 120 "$project_two" weir-hub || die "weir-hub is not healthy again after its restart"
t0=$SECONDS
until [ "$(held)" -ge $((before + 500)) ]; do
  [ $((SECONDS - t0)) -lt 120 ] || die "after the hub's restart the hub holds $(held) records (had $before before)"
  sleep 2
done
ok "hub restarted and healthy; it holds $(held) records ($before before the restart)"
dc2 stop -t 30 weir-a 2>&1 | sed 's/^/  /'
dc2 logs --no-color weir-a >"$sockdir/weir-a.log" 2>&1
# What site A's filter passed on is what its uplink stream holds for to_hub. With site A stopped,
# that consumer must have nothing left (pending, unacknowledged) and nothing delivered twice;
# then to_hub's "records in" is each of those records once, and the hub must hold exactly them.
consumer=$(dc2 exec -T nats-a wget -qO- 'http://127.0.0.1:8222/jsz?streams=true&consumers=true' |
  jq -c '[.account_details[].stream_detail[] | select(.name == "WEIR_UPLINK") | .consumer_detail[]
          | select(.name == "to_hub__warm__out")][0] | {num_pending, num_ack_pending, num_redelivered}')
echo "  site A's uplink stream, consumer to_hub__warm__out after the stop: $consumer"
jq -e '.num_pending == 0 and .num_ack_pending == 0' <<<"$consumer" >/dev/null ||
  die "site A stopped with records not taken or not confirmed by the hub: $consumer"
jq -e '.num_redelivered == 0' <<<"$consumer" >/dev/null ||
  die "site A's to_hub was given records again ($consumer): its count is not one per record, so this check cannot count exactly"
passed=$(logged "$sockdir/weir-a.log" uplink to_hub in)
[ -n "$passed" ] || { tail -20 "$sockdir/weir-a.log"; die "site A did not log its flow's counts at stop"; }
echo "  site A's log at stop: to_hub took $passed records (the warm ones), each once"
# The hub writes what arrives: wait until its file stops growing.
prev=-1
now=$(held)
while [ "$now" != "$prev" ]; do prev=$now; sleep 5; now=$(held); done
archive >"$sockdir/sites.ndjson"
total=$(wc -l <"$sockdir/sites.ndjson")
distinct=$(sort -u "$sockdir/sites.ndjson" | wc -l)
site_a=$(grep -c '"device":"dev-' "$sockdir/sites.ndjson" || true)
warm=$(jq -c 'select(.temp > 20)' "$sockdir/sites.ndjson" | wc -l)
echo "  the hub's archive/sites.ndjson: $total lines, $distinct distinct, $site_a site A readings, $warm warm"
[ "$site_a" -eq "$total" ] || die "$((total - site_a)) lines at the hub are not site A's readings"
[ "$warm" -eq "$total" ] || die "$((total - warm)) lines at the hub are not warm (temp > 20)"
[ "$distinct" -eq "$total" ] || die "duplicates at the hub: $total lines, $distinct distinct"
[ "$total" -eq "$passed" ] || die "site A sent $passed records; the hub holds $total"
ok "site A sent $passed records; the hub holds each once ($total lines), across the hub's restart"
rss_hub=$(pm exec "$(dc2 ps -q weir-hub)" grep -E '^VmRSS' /proc/1/status | tr -s '\t ' ' ')
step_done "records across the hub's restart"

step "examples/two-sites: docker-compose down -v"
dc2 down -v -t 30 2>&1 | sed 's/^/  /'
left=$(left_over "$project_two")
[ -z "$left" ] || die "after docker-compose down: $left"
ok "nothing of the project is left"
step_done "compose down (two sites)"

echo "== summary (packaging/docker/compose_check.sh, $(date -u +%Y-%m-%dT%H:%MZ))"
echo "  $(docker-compose version --short) against podman $(podman --version | awk '{print $3}')'s API, runc; NATS: a STAND-IN image (Debian nats-server)"
echo "  one device: demo flow $generated generated, $hot hot, $lines in the file; engine $rss_demo"
echo "  two sites: $passed records sent by site A, $total at the hub ($distinct distinct), hub restarted after $before; hub engine $rss_hub"
print_times
echo "  total $((SECONDS - t_all)) s"
echo "compose check: passed"
