#!/usr/bin/env bash
# Two weir binaries side by side through one benchmark, interleaved (A B A B ...) so that the
# machine's noise falls on both alike: `bench/ab.sh BENCH WEIR_A WEIR_B [ROUNDS] [-- BENCH ARGS]`.
# BENCH is build/bench/engine_bench or build/bench/bridge_bench (anything taking --weir and
# printing one JSON object on a line of its own). Prints each run's JSON line, then one summary
# line: per throughput field, the median of A, the median of B and B/A.
set -euo pipefail
bench=$1 a=$2 b=$3 rounds=${4:-3}
shift $(( $# >= 4 ? 4 : $# ))
[ "${1:-}" = "--" ] && shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((i = 0; i < rounds; i++)); do
  for side in A B; do
    bin=$a; [ "$side" = B ] && bin=$b
    line=$("$bench" --weir "$bin" "$@" | grep "^{" | tail -1)
    echo "$side $line" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
runs = {"A": [], "B": []}
for line in open(sys.argv[1]):
    side, _, js = line.partition(" ")
    runs[side].append(json.loads(js))
fields = [k for k, v in runs["A"][0].items() if isinstance(v, (int, float)) and k.endswith("msgs_per_s")]
summary = {"rounds": len(runs["A"])}
for k in fields:
    a = statistics.median(r[k] for r in runs["A"] if k in r)
    b = statistics.median(r[k] for r in runs["B"] if k in r)
    summary[k] = {"a": round(a), "b": round(b), "b_over_a": round(b / a, 3) if a else None}
print(json.dumps(summary))
PY
