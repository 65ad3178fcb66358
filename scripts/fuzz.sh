#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz): turbo IR through turbo_compile_mlir,
# config strings through turbo_compile_template, disk cache entries through
# the cache's parser, tuning databases through theirs, and .npy files
# through turbo-tune calibrate's reader. Built with clang 22 (Debian's, installed when
# missing), AddressSanitizer, UndefinedBehaviorSanitizer and coverage on the
# whole build, in their own build directory (default build-fuzz/). Each runs
# for a bounded time from its corpus in tests/fuzz/corpus/<target>/; what it
# finds new goes to a scratch directory, and a crash, leak, timeout or
# sanitizer report fails the run with the input saved under
# $TURBO_FUZZ_ARTIFACTS (default build-fuzz/findings/). CI runs this after
# scripts/sanitize.sh.
#   scripts/fuzz.sh [seconds per target, default 60]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
TURBO_SETUP_ONLY=1 TURBO_EXTRA_PACKAGES="clang-22 libclang-rt-22-dev" source "$root/scripts/setup.sh"
build=${TURBO_FUZZ_DIR:-$root/build-fuzz}
seconds=${1:-60}

flags="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
  -DTURBO_CUDA_ROOT="${TURBO_CUDA_ROOT:-/usr/local/cuda}" -DTURBO_FUZZERS=ON \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
targets=(mlir config cache-entry tuning-db npy)
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/turbo-fuzz-}"

# allow_user_poisoning=0: see scripts/sanitize.sh.
export ASAN_OPTIONS=detect_leaks=1:allow_user_poisoning=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# No cache on disk, no GPU: what is fuzzed is the parsing and the compiler.
export TURBO_CACHE_DISABLE=1 TURBO_LIBCUDA=/nonexistent/libcuda.so.1
findings=${TURBO_FUZZ_ARTIFACTS:-$build/findings}
mkdir -p "$findings"
status=0
for target in "${targets[@]}"; do
  scratch=$(mktemp -d)
  echo "== turbo-fuzz-$target: ${seconds} s from tests/fuzz/corpus/$target"
  # -timeout: one input may take a PTX compile (about a second); far longer
  # is a hang. -rss_limit_mb: a compile's memory is bounded (InputLimits).
  if ! "$build/bin/turbo-fuzz-$target" -max_total_time="$seconds" -timeout=30 \
       -rss_limit_mb=4096 -max_len=8192 -print_final_stats=1 \
       -artifact_prefix="$findings/$target-" "$scratch" "$root/tests/fuzz/corpus/$target" \
       > "$build/fuzz-$target.log" 2>&1; then
    status=1
    tail -40 "$build/fuzz-$target.log"
    echo "turbo-fuzz-$target: a finding (input under $findings)" >&2
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$build/fuzz-$target.log" || true
  rm -rf "$scratch"
done
exit $status
