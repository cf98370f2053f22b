#!/usr/bin/env bash
# Every C++ file of the repository as .clang-format wants it (clang-format 14, Debian 12's).
# Prints each file that differs and how to fix it; exit 1 when any does.
set -uo pipefail
cd "$(dirname "$0")/../.."
command -v clang-format >/dev/null || { echo "FAIL clang-format is not installed (packaging/dev.sh installs it)"; exit 1; }
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' 2>/dev/null)
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(find src components tests bench -name '*.cpp' -o -name '*.hpp' -o -name '*.h')
fi
bad=$(clang-format --dry-run "${files[@]}" 2>&1 | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' | cut -d: -f1 | sort -u)
if [ -n "$bad" ]; then
  echo "$bad" | sed 's/^/FAIL not formatted: /'
  echo "fix: clang-format -i $(echo "$bad" | tr '\n' ' ')"
  exit 1
fi
echo "ok: ${#files[@]} files formatted"
