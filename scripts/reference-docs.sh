#!/usr/bin/env bash
# The op, attribute, type and pass reference in docs/reference/ is generated
# from the TableGen definitions (add_mlir_doc): this compares the committed
# copies with what the build generated, and --write updates them.
#   scripts/reference-docs.sh [--write] [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
write=0
if [ "${1:-}" = "--write" ]; then write=1; shift; fi
build=${1:-${TURBO_BUILD_DIR:-$root/build}}
cmake --build "$build" --target mlir-doc > /dev/null
status=0
for name in TurboDialect TurboPasses TurboConversionPasses; do
  generated=$build/docs/Turbo/$name.md
  committed=$root/docs/reference/$name.md
  if [ $write = 1 ]; then
    cp "$generated" "$committed"
  elif ! diff -u "$committed" "$generated"; then
    status=1
  fi
done
if [ $status != 0 ]; then
  echo "reference-docs: docs/reference/ differs from the TableGen definitions;" >&2
  echo "run scripts/reference-docs.sh --write and commit the result." >&2
fi
[ $write = 1 ] && echo "reference-docs: docs/reference/ written from the TableGen definitions"
exit $status
