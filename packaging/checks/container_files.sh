#!/usr/bin/env bash
# Offline checks of the container files, run by the meson test packaging_container_files (no
# Docker engine needed):
#   packaging/checks/container_files.sh WEIR_BINARY
# - docker-compose config -q (Debian 12's docker-compose 1.29) on packaging/docker/compose.yaml
#   and examples/two-sites/compose.yaml, and that the former refuses to start without its secrets;
# - dockerfile-utils lint (npm) on packaging/docker/Dockerfile, with no finding at all;
# - what the files name exists: the files the Dockerfile copies, the paths compose mounts, every
#   WEIR_* variable compose sets is an engine option, the image's engine config is valid, and
#   packaging/README.md's configuration reference is `weir config --reference`;
# - packaging/runtime-packages.txt matches the binary's DT_NEEDED (packaging/runtime-packages.sh).
# The tools come from packaging/dev.sh (apt docker-compose; npm dockerfile-utils into
# .cache/tools); a missing tool is a failure, never a skip.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
weir="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
lint="${DOCKERFILE_UTILS:-$root/.cache/tools/node_modules/.bin/dockerfile-utils}"
failures=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

command -v docker-compose >/dev/null || fail "docker-compose is not installed (apt install docker-compose)"
[ -x "$lint" ] || fail "dockerfile-utils is not installed at $lint (packaging/dev.sh installs it)"

cd "$root/packaging/docker"
if out=$(docker-compose --env-file .env.example config -q 2>&1); then
  pass "packaging/docker/compose.yaml: docker-compose config -q"
else
  fail "packaging/docker/compose.yaml: $out"
fi
empty_env=$(mktemp)
if out=$(env -u WEIR_HTTP_TOKEN docker-compose --env-file "$empty_env" config -q 2>&1); then
  fail "packaging/docker/compose.yaml is accepted without WEIR_HTTP_TOKEN"
elif grep -q "set WEIR_HTTP_TOKEN in .env" <<<"$out"; then
  pass "packaging/docker/compose.yaml refuses to start without WEIR_HTTP_TOKEN"
else
  fail "packaging/docker/compose.yaml without WEIR_HTTP_TOKEN: $out"
fi
rm -f "$empty_env"
cd "$root/examples/two-sites"
if out=$(BRIDGE_TOKEN=check docker-compose config -q 2>&1); then
  pass "examples/two-sites/compose.yaml: docker-compose config -q"
else
  fail "examples/two-sites/compose.yaml: $out"
fi

cd "$root"
if out=$("$lint" lint packaging/docker/Dockerfile 2>&1) && [ -z "$out" ]; then
  pass "packaging/docker/Dockerfile: dockerfile-utils lint"
else
  fail "packaging/docker/Dockerfile: dockerfile-utils lint: $out"
fi

# COPY sources (not --from) are paths in the build context, the repository root.
for src in $(awk '$1 == "COPY" && $2 !~ /^--from/ && $2 != "." {print $2}' packaging/docker/Dockerfile); do
  [ -e "$src" ] && pass "Dockerfile copies $src" || fail "Dockerfile copies $src, which does not exist"
done
# Bind mounts (./x or ../x before a colon), relative to each compose file's folder.
for f in packaging/docker/compose.yaml examples/two-sites/compose.yaml; do
  for m in $(grep -oE '^ *- \.{1,2}/[^:]+:' "$f" | sed -E 's/^ *- //; s/:$//'); do
    [ -e "$(dirname "$f")/$m" ] && pass "$f mounts $m" || fail "$f mounts $m, which does not exist"
  done
  for m in $(grep -oE '\$\{WEIR_FLOWS:-[^}]+\}' "$f" | sed -E 's/.*:-//; s/\}$//'); do
    [ -d "$(dirname "$f")/$m" ] && pass "$f mounts $m by default" || fail "$f's default flows folder $m does not exist"
  done
done

reference=$("$weir" config --reference)
for v in $(grep -ohE '\bWEIR_[A-Z_]+:' packaging/docker/compose.yaml examples/two-sites/compose.yaml | tr -d : | sort -u); do
  case "$v" in WEIR_IMAGE|WEIR_FLOWS) continue ;; esac  # compose's own variables, not the engine's
  grep -q "\`$v\`" <<<"$reference" && pass "compose sets $v, an engine option" || fail "compose sets $v, which weir does not read"
done
# The guide's configuration reference is the binary's own table, line for line.
if grep -qxF -f <(echo "$reference") packaging/README.md &&
   [ "$(grep -cxF -f <(echo "$reference") packaging/README.md)" -eq "$(echo "$reference" | wc -l)" ]; then
  pass "packaging/README.md carries weir config --reference"
else
  fail "packaging/README.md's configuration reference differs from weir config --reference (paste it again)"
fi
if out=$(WEIR_CONFIG=packaging/docker/weir.json "$weir" config 2>&1 >/dev/null); then
  pass "packaging/docker/weir.json is a valid engine config"
else
  fail "packaging/docker/weir.json: $out"
fi

if out=$(packaging/runtime-packages.sh --check "$weir" 2>&1); then pass "$out"; else fail "$out"; fi

echo "$failures failed"
[ "$failures" -eq 0 ]
