#!/usr/bin/env bash
# Starts site A and the hub on this machine, each engine with its own embedded nats-server on
# loopback (ports 4231 and 4232), bridged over ws://127.0.0.1:8765/bridge. State goes to
# examples/two-sites/run/. Ctrl-C stops both.
#   examples/two-sites/run.sh [seconds]   stop by itself after that many seconds
# WEIR (default: build/src/app/weir) and BRIDGE_TOKEN (default: a random one) may be set.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
weir="${WEIR:-$root/build/src/app/weir}"
[ -x "$weir" ] || { echo "run.sh: $weir not found; build first: packaging/dev.sh build" >&2; exit 2; }
export BRIDGE_TOKEN="${BRIDGE_TOKEN:-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
mkdir -p "$here/run"

pids=()
stop() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

(cd "$here/hub" && exec "$weir" run --config weir.json) > "$here/run/hub.log" 2>&1 &
pids+=($!)
(cd "$here/site-a" && exec "$weir" run --config weir.json) > "$here/run/site-a.log" 2>&1 &
pids+=($!)
echo "site A and hub started (logs in $here/run/*.log); the hub writes $here/run/hub/archive/sites.ndjson"

deadline=$(( $(date +%s) + ${1:-3600000} ))
file="$here/run/hub/archive/sites.ndjson"
while [ "$(date +%s)" -lt "$deadline" ]; do
  sleep 2
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { echo "an engine exited; see the logs" >&2; exit 1; }; done
  echo "hub holds $( [ -f "$file" ] && wc -l < "$file" || echo 0) records"
done
