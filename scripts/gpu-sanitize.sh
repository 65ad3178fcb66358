#!/usr/bin/env bash
# Runs inside an unpacked bundle on a GPU machine: compute-sanitizer's
# memcheck over every kernel at ragged sizes (lengths 1, a tile minus and
# plus one, not a multiple of the tile; varlen, bad block tables and the
# cache writes through the GPU tests), racecheck and synccheck over one run
# of each kind. Each run is turbo-bench's (one untimed launch sequence,
# checked against the CPU reference) or a GPU test's. Logs go to $OUT (or
# ./out); summary.txt has one line per run. Exit status: non-zero if a tool
# reported an error or a run failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/out}
mkdir -p "$out"
cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
bench=("$here/bin/turbo-bench" --warmup=0 --repeats=1)
tests="$here/bin/turbo-gpu-tests"
status=0
run() { # tool label command...
  local tool=$1 label=$2; shift 2
  timeout 300 "$cs" --tool "$tool" --error-exitcode 99 "$@" > "$out/$tool-$label.log" 2>&1
  local rc=$?
  [ $rc -eq 0 ] || status=1
  echo "$tool $label: rc=$rc $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/$tool-$label.log" | tail -1)" |
    tee -a "$out/summary.txt"
}
: > "$out/summary.txt"
decode=(--kernel=attention_decode --preset=llama3-8b)
append=(--kernel=kv_stage --preset=llama3-8b)
# prefill: the launch sequence (channel_mean, quantize_kv, attention) at
# 128 keys a block
for s in 1 63 129 200; do run memcheck prefill-s$s "${bench[@]}" --seq=$s --q-heads=4 --kv-heads=2; done
run memcheck prefill-causal-s129 "${bench[@]}" --seq=129 --q-heads=4 --kv-heads=2 --causal
run memcheck prefill-d64-causal-s65 "${bench[@]}" --seq=65 --q-heads=4 --kv-heads=1 --head-dim=64 --causal
run memcheck prefill-d96-bf16-s70 "${bench[@]}" --seq=70 --q-heads=2 --kv-heads=2 --head-dim=96 --dtype=bf16
run memcheck prefill-int8-s129 "${bench[@]}" --seq=129 --q-heads=4 --kv-heads=2 --config=pv=int8
run memcheck prefill-half-s129 "${bench[@]}" --seq=129 --q-heads=4 --kv-heads=2 --config=pv=half
run memcheck prefill-kv-in-kernel-s129 "${bench[@]}" --seq=129 --q-heads=4 --kv-heads=2 --config=kv_int8=0,wgmma=0
run memcheck prefill-stages3-s257 "${bench[@]}" --seq=257 --q-heads=2 --kv-heads=2 --config=num_stages=3
run memcheck varlen "$tests" "packed (varlen) prefill matches each sequence alone"
# decode (and decode_reduce with splits) over 64-token pages
for c in 1 63 64 65 4095; do run memcheck decode-c$c "${bench[@]}" "${decode[@]}" --batch=3 --context=$c --kv-bits=mixed; done
run memcheck decode-2bit-q3-c130 "${bench[@]}" "${decode[@]}" --batch=2 --context=130 --kv-bits=2 --num-query=3 --config=max_query=4
run memcheck decode-8bit-split3-c1000 "${bench[@]}" "${decode[@]}" --batch=2 --context=1000 --kv-bits=8 --splits=3
run memcheck decode-bad-tables "$tests" "attention_decode: bad block tables and lengths stay in bounds"
# append: kv_stage, and kv_compress when the step fills a page; bulk compression
for c in 62 63 64 4095; do run memcheck append-c$c "${bench[@]}" "${append[@]}" --batch=3 --context=$c --kv-bits=mixed; done
run memcheck append-4bit-n5-c60 "${bench[@]}" "${append[@]}" --batch=2 --context=60 --kv-bits=4 --num-query=5
run memcheck kv-writes "$tests" "[kvwrite]"
run memcheck quantize-rows-t33 "${bench[@]}" --kernel=quantize_rows --tokens=33
for tool in racecheck synccheck; do
  run $tool prefill-causal-s129 "${bench[@]}" --seq=129 --q-heads=2 --kv-heads=1 --causal
  run $tool prefill-int8-s200 "${bench[@]}" --seq=200 --q-heads=2 --kv-heads=1 --config=pv=int8
  run $tool prefill-mma-s200 "${bench[@]}" --seq=200 --q-heads=2 --kv-heads=1 --config=pv=int8,wgmma=0
  run $tool prefill-half-d64-s65 "${bench[@]}" --seq=65 --q-heads=2 --kv-heads=1 --head-dim=64 --config=pv=half
  run $tool prefill-stages3-s257 "${bench[@]}" --seq=257 --q-heads=2 --kv-heads=2 --config=num_stages=3
  run $tool decode-c130-split2 "${bench[@]}" "${decode[@]}" --batch=2 --context=130 --kv-bits=mixed --splits=2
  run $tool append-c63 "${bench[@]}" "${append[@]}" --batch=2 --context=63 --kv-bits=mixed
  run $tool quantize-rows-t33 "${bench[@]}" --kernel=quantize_rows --tokens=33
done
exit $status
