#!/usr/bin/env bash
# Packs the portable build -- libturbo.so (LLVM and MLIR inside), the tools
# and the GPU tests -- into one archive that unpacks and runs on a machine
# with a GPU and no LLVM: .bundle/turbo-bundle.tar.xz (at most 40 MB).
# Run scripts/setup.sh (or the README's commands) first; this builds what
# is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TURBO_BUILD_DIR:-$root/build}
out=${1:-$root/.bundle}

cmake --build "$build" --target turbo turbo-compile turbo-bench turbo-tune turbo-gpu-tests

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/turbo/bin" "$stage/turbo/lib"
cp -L "$build/lib/libturbo.so.0" "$stage/turbo/lib/"
for tool in turbo-compile turbo-bench turbo-tune turbo-gpu-tests; do
  cp "$build/bin/$tool" "$stage/turbo/bin/"
done
strip --strip-unneeded "$stage/turbo/lib/libturbo.so.0" "$stage"/turbo/bin/turbo-*
cp "$root/scripts/gpu-checks.sh" "$root/scripts/gpu-prefill-bench.sh" "$root/scripts/gpu-sanitize.sh" "$root/bench/sdpa_peers.py" \
   "$root/bench/accuracy_peers.py" \
   "$root/bench/run_benchmarks.py" "$root/bench/chart.py" "$root/bench/profile_prefill.py" \
   "$root/bench/decode_bench.py" \
   "$stage/turbo/"
mkdir -p "$stage/turbo/python" "$stage/turbo/tests"
cp -r "$root/python/turbo" "$stage/turbo/python/"
cp "$root/tests/python/test_binding_gpu.py" "$root/tests/python/test_decode_gpu.py" "$stage/turbo/tests/"
# The C example, linked against the bundled library.
cc "$root/examples/quantize_example.c" -I"$root/runtime/include" -L"$build/lib" -lturbo -lm \
  -Wl,-rpath,'$ORIGIN/../lib' -o "$stage/turbo/bin/quantize_example"
git -C "$root" rev-parse --short HEAD > "$stage/turbo/COMMIT" 2>/dev/null || echo unknown > "$stage/turbo/COMMIT"

mkdir -p "$out"
tar -C "$stage" -cJf "$out/turbo-bundle.tar.xz" turbo
size=$(stat -c %s "$out/turbo-bundle.tar.xz")
echo "bundle: $out/turbo-bundle.tar.xz ($((size / 1024 / 1024)) MiB)"
if [ "$size" -gt $((40 * 1024 * 1024)) ]; then
  echo "bundle exceeds 40 MB" >&2
  exit 1
fi
