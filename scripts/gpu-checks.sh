#!/usr/bin/env bash
# Runs inside an unpacked bundle on a GPU machine: what the bundle links,
# the GPU tests, the Python tests, the C example, the API host costs, then
# turbo-bench (JIT, run, verify, time). Logs go to
# $OUT (or ./out). Exit status: non-zero if any step failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/out}
mkdir -p "$out"
status=0
step() { echo; echo "== $*"; }

step "commit $(cat "$here/COMMIT")"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv 2>&1 || true

step "libturbo.so: linked libraries and exported symbols"
ldd "$here/lib/libturbo.so.0" | tee "$out/ldd.txt"
if grep -Eq 'libLLVM|libMLIR' "$out/ldd.txt"; then echo "FAIL: links LLVM/MLIR dynamically"; status=1; fi
nm -D --defined-only "$here/lib/libturbo.so.0" | tee "$out/exports.txt" | awk '{print $3}' | grep -v '^turbo_' && { echo "FAIL: exports beyond turbo_*"; status=1; }
echo "$(wc -l < "$out/exports.txt") exported symbols"

step "GPU tests"
"$here/bin/turbo-gpu-tests" --durations yes 2>&1 | tee "$out/gpu-tests.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

step "Python binding (torch)"
(cd "$here/tests" && PYTHONPATH="$here/python" python3 -m unittest -v test_binding_gpu test_decode_gpu) 2>&1 | tee "$out/python-tests.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

step "C example against the bundled library"
"$here/bin/quantize_example" || status=1

step "API host costs"
"$here/bin/turbo-bench" --overhead --json="$out/overhead.json" || status=1

step "turbo-bench: JIT, run, verify, time"
"$here/bin/turbo-bench" --json="$out/bench.json" "$@" 2>&1 | tee "$out/bench.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

step "done: status $status"
exit $status
