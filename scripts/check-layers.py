#!/usr/bin/env python3
"""Fails when an include runs back up turbo's layers.

The layers, bottom up (each may use only those below it):

    support   status, head configurations, kernel binaries, numerics
    dialects  the turbo dialect and its passes
    templates kernel templates: typed configs, signatures, launches, references, builders
    compiler  pipelines and conversions to PTX
    runtime   the driver layer, kernel cache, C and C++ APIs
    tools     the command-line tools

Two more rules keep the compiler out of what runs without it: support/ and
the host side of the templates (every file but the MLIR builders) include no
MLIR, LLVM, dialect or compiler header; the runtime's core (driver, device,
cache, launcher) includes none of MLIR, the dialect or the compiler (LLVM's
Support library, for SHA-256, is allowed there).

Usage: scripts/check-layers.py [--root DIR]; exit 1 with one line per
offending include.
"""
import argparse
import pathlib
import re
import sys

LAYERS = ["support", "dialects", "templates", "compiler", "runtime", "tools"]
SOURCES = (".h", ".hpp", ".cpp", ".c", ".inc", ".def")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]', re.M)

# Headers generated into the build folder, by the layer that generates them.
GENERATED = [
    (re.compile(r"^turbo/Dialect/.*\.inc$"), "dialects"),
    (re.compile(r"^turbo/Compiler/.*\.inc$"), "compiler"),
    (re.compile(r"^turbo/Templates/AllTemplates\.h$"), "templates"),
    (re.compile(r"^turbo/CodegenId\.h$"), "runtime"),
]


def include_dirs(root):
    dirs = [
        root / "support/include",
        root / "dialects/include",
        root / "templates/include",
        root / "templates",
        root / "compiler/include",
        root / "runtime/include",
    ]
    dirs += sorted(p for p in (root / "runtime/lib").iterdir() if p.is_dir())
    return dirs


def layer_of(root, path):
    parts = path.relative_to(root).parts
    return parts[0] if parts and parts[0] in LAYERS else None


def forbidden_includes(root, path):
    """What `path` may not include (a pattern), or None: see the docstring."""
    rel = path.relative_to(root).as_posix()
    compiler = r"(mlir|llvm)/|turbo/(Dialect|Compiler)/"
    if rel.startswith("support/"):
        return compiler
    if rel.startswith("templates/"):
        builder = path.name.endswith("Kernel.cpp") or path.stem in ("Builders", "BuildKernel")
        return None if builder else compiler
    if re.match(r"runtime/lib/(Driver|Device|Cache|Launch)/", rel):
        return r"mlir/|llvm/(?!Support/|ADT/)|turbo/(Dialect|Compiler)/"
    return None


def resolve(root, source, name, quoted, dirs):
    """The file `name` names, or a layer name for generated headers, or None
    for headers outside the project."""
    for pattern, layer in GENERATED:
        if pattern.match(name):
            return layer
    candidates = ([source.parent] if quoted else []) + dirs
    for directory in candidates:
        candidate = (directory / name).resolve()
        if candidate.is_file() and root in candidate.parents:
            return candidate
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=pathlib.Path(__file__).resolve().parent.parent)
    root = pathlib.Path(parser.parse_args().root).resolve()
    dirs = include_dirs(root)
    rank = {name: i for i, name in enumerate(LAYERS)}
    problems, checked = [], 0
    for layer in LAYERS:
        for source in sorted((root / layer).rglob("*")):
            if source.suffix not in SOURCES or not source.is_file():
                continue
            text = source.read_text(errors="replace")
            for match in INCLUDE.finditer(text):
                quoted, name = match.group(1) == '"', match.group(2)
                line = text.count("\n", 0, match.start()) + 1
                where = f"{source.relative_to(root)}:{line}: #include {name}"
                checked += 1
                forbidden = forbidden_includes(root, source)
                if forbidden and re.match(forbidden, name):
                    problems.append(f"{where}: this file is built without the compiler")
                    continue
                target = resolve(root, source, name, quoted, dirs)
                if target is None:
                    if name.startswith("turbo/"):
                        problems.append(f"{where}: not found in the project's include folders")
                    continue
                target_layer = target if isinstance(target, str) else layer_of(root, target)
                if target_layer is None:
                    continue
                if rank[target_layer] > rank[layer]:
                    problems.append(f"{where}: {layer} may not use {target_layer} (above it)")
    for problem in problems:
        print(problem)
    print(f"check-layers: {checked} includes in {', '.join(LAYERS)}: "
          f"{len(problems)} against the layering")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
