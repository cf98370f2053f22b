#!/usr/bin/env bash
# The Debian packages that hold the shared libraries a binary needs (its DT_NEEDED entries, read
# with readelf -d), one per line, sorted. Works on a cross-built binary when that architecture's
# libraries are installed (multiarch), or inside a root filesystem with ROOT=/path.
#   packaging/runtime-packages.sh BINARY            the packages
#   packaging/runtime-packages.sh --check BINARY    exit 1 unless packaging/runtime-packages.txt
#                                                   lists exactly these (plus its marked extras)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
check=false
[ "${1:-}" = "--check" ] && { check=true; shift; }
bin="${1:?usage: runtime-packages.sh [--check] BINARY}"
root="${ROOT:-}"

machine=$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')
case "$machine" in
  *X86-64*) triplet=x86_64-linux-gnu ;;
  *AArch64*) triplet=aarch64-linux-gnu ;;
  *ARM*) triplet=arm-linux-gnueabihf ;;
  *) echo "runtime-packages.sh: unknown machine '$machine'" >&2; exit 2 ;;
esac

dpkg_db=()
[ -n "$root" ] && dpkg_db=(--root="$root")
owner() {  # the package that installed a path; Debian 12's dpkg still lists /lib and /usr/lib apart
  local p
  for p in "$1" "${1/#\/usr\/lib\//\/lib\/}" "${1/#\/lib\//\/usr\/lib\/}"; do
    dpkg-query "${dpkg_db[@]}" -S "$p" 2>/dev/null | head -1 | cut -d: -f1 && return 0
  done
  return 1
}

needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
packages=()
for lib in $needed; do
  found=""
  for dir in "/lib/$triplet" "/usr/lib/$triplet" /lib /usr/lib; do
    if [ -e "$root$dir/$lib" ]; then found="$dir/$lib"; break; fi
  done
  [ -n "$found" ] || { echo "runtime-packages.sh: $lib not found for $triplet" >&2; exit 1; }
  pkg=$(owner "$found") || { echo "runtime-packages.sh: no package owns $found" >&2; exit 1; }
  packages+=("$pkg")
done
derived=$(printf '%s\n' "${packages[@]}" | sort -u)

if ! $check; then
  echo "$derived"
  exit 0
fi
# packaging/runtime-packages.txt: one package per line; "# extra: why" after a package that no
# library explains (it must say why it is there).
listed=$(package_list "$here/runtime-packages.txt" | sort -u)
extras=$(grep -E '#[[:space:]]*extra:' "$here/runtime-packages.txt" | sed -e 's/#.*//' -e 's/[[:space:]]//g' | sort -u)
missing=$(comm -23 <(echo "$derived") <(echo "$listed"))
unexplained=$(comm -23 <(comm -13 <(echo "$derived") <(echo "$listed")) <(echo "$extras"))
[ -z "$missing" ] || echo "runtime-packages.txt lacks (needed by $bin): $missing" >&2
[ -z "$unexplained" ] || echo "runtime-packages.txt lists what $bin does not need (mark it '# extra: why'): $unexplained" >&2
[ -z "$missing$unexplained" ] && echo "runtime-packages.txt matches $bin ($(echo "$derived" | wc -l) library packages, $(echo "$extras" | grep -c . || true) extras)"
[ -z "$missing$unexplained" ]
