#!/usr/bin/env bash
# Prefill timings on a GPU machine, inside an unpacked bundle: turbo-bench on
# the benchmark shapes (16k tokens, hidden 2048: d128 x 16 heads, d64 x 32
# heads; sequences 1k/4k/16k; causal and not). Writes one JSON per run to
# $OUT. Usage: gpu-prefill-bench.sh [extra turbo-bench flags]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/out}
mkdir -p "$out"
for d in 128 64; do
  heads=$((2048 / d))
  for seq in ${SEQS:-1024 4096 16384}; do
    for causal in "" "--causal"; do
      name="prefill-d$d-s$seq${causal:+-causal}"
      "$here/bin/turbo-bench" --kernel=attention_prefill --head-dim=$d --q-heads=$heads \
        --kv-heads=$heads --seq=$seq --tokens=16384 $causal --repeats=${REPEATS:-20} \
        --json="$out/$name.json" "$@" 2>&1 | tail -1
    done
  done
done
