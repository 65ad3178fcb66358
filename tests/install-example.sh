#!/usr/bin/env bash
# Installs the build into a temporary prefix, builds examples/ against it
# with find_package(Turbo) and with pkg-config, and runs both (without a GPU
# they compile a kernel to PTX and exit 0).
set -euo pipefail
build=$1
source_dir=$2
prefix=$(mktemp -d)
work=$(mktemp -d)
trap 'rm -rf "$prefix" "$work"' EXIT
cmake --install "$build" --prefix "$prefix" > /dev/null
cmake -S "$source_dir/examples" -B "$work/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
cmake --build "$work/cmake" > /dev/null
"$work/cmake/quantize_example"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc "$source_dir/examples/quantize_example.c" $(pkg-config --cflags --libs turbo) -lm \
  -o "$work/quantize_example_pc"
"$work/quantize_example_pc"
# The installed tools run, and the Python package finds the installed library.
"$prefix/bin/turbo-compile" --version
PYTHONPATH="$prefix/share/turbo/python" python3 -c "import turbo; print('python:', turbo.version(), turbo.templates())"
