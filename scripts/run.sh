#!/usr/bin/env bash
# Builds turbo, then JIT-compiles the kernel for the default
# head configuration (llama3-8b: 32/8/128, f16). On a GPU it runs it,
# verifies every output against the CPU reference and times it; without one
# it emits the PTX, validates it with ptxas and says that no GPU was found.
# Extra arguments go to turbo-bench (try --help).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/setup.sh"
exec "${TURBO_BUILD_DIR:-$root/build}/bin/turbo-bench" --preset=llama3-8b "$@"
