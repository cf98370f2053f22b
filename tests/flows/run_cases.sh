#!/usr/bin/env bash
# Test flow_cases: `weir test` over every case file, found by name (new files need no meson edit):
#   tests/flows/<name>.cases.json            against tests/flows/<name>.flow.json
#   tests/flows/shipped/<path>.cases.json    against the shipped flow <path>.json, with "__" in
#                                            the name standing for "/" (flows__demo: flows/demo.json)
# Usage: run_cases.sh WEIR_BIN SOURCE_ROOT. Fails when any case fails or any file is bad; names
# the shipped flows that have no cases (not a failure: a flow of only inputs and outputs may have
# nothing to check).
set -uo pipefail
weir=$1
root=$2
cd "$root" || exit 2
status=0
files=0
run() {
  echo "== weir test $1 $2"
  "$weir" test "$1" "$2" || status=1
  files=$((files + 1))
}
for cases in tests/flows/*.cases.json; do
  [ -e "$cases" ] || continue
  flow=${cases%.cases.json}.flow.json
  if [ ! -f "$flow" ]; then
    echo "$cases: no $flow beside it"
    status=1
    continue
  fi
  run "$flow" "$cases"
done
for cases in tests/flows/shipped/*.cases.json; do
  [ -e "$cases" ] || continue
  name=$(basename "$cases" .cases.json)
  flow=${name//__//}.json
  if [ ! -f "$flow" ]; then
    echo "$cases: the shipped flow $flow does not exist"
    status=1
    continue
  fi
  run "$flow" "$cases"
done
for flow in flows/*.json examples/*.json examples/*/*/flows/*.json components/*/example.json; do
  [ -e "$flow" ] || continue
  name=${flow%.json}
  [ -f "tests/flows/shipped/${name//\//__}.cases.json" ] || echo "no cases: $flow"
done
if [ "$files" -eq 0 ]; then
  echo "no case files found under $root/tests/flows"
  status=1
fi
echo "$files case files; $([ "$status" -eq 0 ] && echo all passed || echo some failed)"
exit "$status"
