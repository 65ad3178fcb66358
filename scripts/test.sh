#!/usr/bin/env bash
# Builds turbo and runs every test: lit + FileCheck on the IR and PTX,
# Catch2 unit tests, and the GPU tests (reported as skipped, with the
# reason, where there is no GPU).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/setup.sh"
cd "${TURBO_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "$(nproc)" "$@"
