#!/usr/bin/env bash
# The unit, C-API, cache and driver tests built a second time with AddressSanitizer
# and UndefinedBehaviorSanitizer (any report fails the run), in their own
# build directory (default build-sanitize/). The fuzz tests run a tenth of
# their usual iterations there (ASan slows them about 10x). CI runs this
# after scripts/test.sh.
#   scripts/sanitize.sh [ctest arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The packages and the CUDA headers, as the main build needs them (setup.sh
# sets its own `build`: this script's is set after it).
TURBO_SETUP_ONLY=1 source "$root/scripts/setup.sh"
build=${TURBO_SANITIZE_DIR:-$root/build-sanitize}

flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
python=()
[ -x /usr/bin/python3 ] && python=(-DPython3_EXECUTABLE=/usr/bin/python3)
cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DTURBO_CUDA_ROOT="${TURBO_CUDA_ROOT:-/usr/local/cuda}" "${python[@]}" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
cmake --build "$build" -j "$(nproc)" --target turbo-unit-tests turbo-capi-tests turbo-cache-tests \
  turbo-driver-tests turbo-stand-in-cuda

# allow_user_poisoning=0: the LLVM headers, compiled here with ASan, poison memory
# in containers that the prebuilt (uninstrumented) LLVM libraries then use.
export ASAN_OPTIONS=detect_leaks=1:allow_user_poisoning=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TURBO_FUZZ_ITERATIONS=${TURBO_FUZZ_ITERATIONS:-2000}
cd "$build"
ctest --output-on-failure -j "$(nproc)" -R '^(unit|capi|cache|driver):' --no-tests=error --timeout 1200 "$@"
