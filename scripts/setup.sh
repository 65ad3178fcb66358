#!/usr/bin/env bash
# Installs what turbo needs to build (Debian 12 packages, with apt-get, only
# when missing), then configures and builds it in $TURBO_BUILD_DIR (default
# build/). Sourced by scripts/run.sh and scripts/test.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${TURBO_BUILD_DIR:-$root/build}

packages=(cmake ninja-build g++ python3 llvm-22-dev libmlir-22-dev mlir-22-tools
          llvm-22-tools lld-22 catch2 libfmt-dev zlib1g-dev libzstd-dev binutils xz-utils
          pkg-config python3-numpy)
# Scripts that need more (scripts/fuzz.sh: clang and its fuzzer runtime) add them here.
read -r -a extra <<< "${TURBO_EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "turbo: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

cuda=${TURBO_CUDA_ROOT:-/usr/local/cuda}
if [ ! -f "$cuda/include/cuda.h" ]; then
  echo "turbo: the CUDA toolkit's headers are missing ($cuda/include/cuda.h)." >&2
  echo "       turbo needs cuda.h for driver-API types (and ptxas to validate PTX);" >&2
  echo "       install the CUDA toolkit there or set TURBO_CUDA_ROOT." >&2
  exit 1
fi

# TURBO_SETUP_ONLY=1: the dependencies only (scripts/sanitize.sh builds its own tree).
if [ "${TURBO_SETUP_ONLY:-0}" = 1 ]; then
  return 0 2>/dev/null || exit 0
fi

# The tests' Python is Debian's, which the packages above equip (numpy),
# not whichever python3 comes first on PATH.
python=()
[ -x /usr/bin/python3 ] && python=(-DPython3_EXECUTABLE=/usr/bin/python3)
jobs=$(nproc)
cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTURBO_CUDA_ROOT="$cuda" \
  "${python[@]}"
cmake --build "$build" -j "$jobs"
