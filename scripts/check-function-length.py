#!/usr/bin/env python3
"""Fails when a function in the given folders is longer than a limit.

Kernel builders and host code read as short phases; this keeps them so.
Counts the lines of every top-level function or method body (from the line
that opens it to its closing brace, clang-format's layout) in .cpp files.

Usage: scripts/check-function-length.py [--max N] FOLDER...
"""
import argparse
import pathlib
import re
import sys

# A definition starts at column 0 (or in a namespace, still column 0 in
# turbo's style) and its line, or a following one, ends with "{".
START = re.compile(r"^[A-Za-z_].*\)\s*(const\s*)?(override\s*)?(->\s*[\w:<>, ]+\s*)?\{\s*$")


def functions(text):
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        # Join a signature that spans lines up to its opening brace.
        if re.match(r"^[A-Za-z_]", line) and not line.startswith(("namespace", "using", "#",
                                                                   "struct", "class", "enum",
                                                                   "template", "static_assert")):
            j, signature = i, line
            while not signature.rstrip().endswith(("{", ";", "}")) and j + 1 < len(lines) \
                    and j - i < 8:
                j += 1
                signature += " " + lines[j].strip()
            if START.match(signature.rstrip()) and "=" not in signature.split("(")[0]:
                depth, k = 0, j
                for k in range(j, len(lines)):
                    depth += lines[k].count("{") - lines[k].count("}")
                    if depth == 0:
                        break
                name = re.sub(r"\(.*", "", signature).split()[-1]
                yield name, i + 1, k - i + 1
                i = k + 1
                continue
        i += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=150)
    parser.add_argument("folders", nargs="+")
    args = parser.parse_args()
    longest, problems = 0, []
    for folder in args.folders:
        for path in sorted(pathlib.Path(folder).rglob("*.cpp")):
            for name, line, length in functions(path.read_text()):
                longest = max(longest, length)
                if length > args.max:
                    problems.append(f"{path}:{line}: {name} is {length} lines (at most {args.max})")
    for problem in problems:
        print(problem)
    print(f"check-function-length: longest function {longest} lines; "
          f"{len(problems)} over {args.max}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
