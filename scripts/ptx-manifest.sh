#!/usr/bin/env bash
# Compiles every entry of tests/ptx-manifest/configs.txt to PTX and compares
# the SHA-256 of each with tests/ptx-manifest/manifest.txt: a change to the
# code generator that was meant to leave the kernels alone must leave these
# bytes alone. --write records the current hashes instead (commit them with
# the change that altered the PTX, and say why).
#   scripts/ptx-manifest.sh [--write] [turbo-compile]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
write=0
if [ "${1:-}" = "--write" ]; then write=1; shift; fi
compile=${1:-${TURBO_BUILD_DIR:-$root/build}/bin/turbo-compile}
configs=$root/tests/ptx-manifest/configs.txt
manifest=$root/tests/ptx-manifest/manifest.txt
[ -x "$compile" ] || { echo "ptx-manifest: $compile is not an executable" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One line of configs.txt -> "<sha256>  <line>", in parallel over the cores.
hash_entry() {
  local compile=$1 line=$2 ptx
  # shellcheck disable=SC2086 # the entry's words are turbo-compile's arguments
  if ! ptx=$("$compile" $line --emit=ptx 2>&1); then
    printf 'FAILED  %s\n' "$line"
    printf '%s\n' "$ptx" >&2
    return 0
  fi
  printf '%s  %s\n' "$(printf '%s' "$ptx" | sha256sum | cut -d' ' -f1)" "$line"
}
export -f hash_entry
grep -v '^\s*\(#\|$\)' "$configs" |
  TURBO_CACHE_DISABLE=1 xargs -d '\n' -P "$(nproc)" -I{} bash -c 'hash_entry "$0" "$1"' "$compile" {} |
  sort -k2 > "$work/current"
if grep -q '^FAILED' "$work/current"; then
  echo "ptx-manifest: these entries did not compile:" >&2
  grep '^FAILED' "$work/current" >&2
  exit 1
fi
if [ $write = 1 ]; then
  cp "$work/current" "$manifest"
  echo "ptx-manifest: wrote $(wc -l < "$manifest") hashes to $manifest"
  exit 0
fi
sort -k2 "$manifest" > "$work/expected"
if ! diff -u "$work/expected" "$work/current"; then
  echo "ptx-manifest: the PTX above differs from the manifest (- recorded, + now)." >&2
  echo "If the change is meant, run scripts/ptx-manifest.sh --write and commit the reason." >&2
  exit 1
fi
echo "ptx-manifest: $(wc -l < "$work/current") kernels byte-identical to the manifest"
