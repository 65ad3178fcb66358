#!/usr/bin/env python3
"""Instruction mix of the longest loop in a PTX file: the body between a
label and the backward branch to it (for the attention kernel, one step of
block_n keys). Counts PTX instructions by opcode, most frequent first, then
the total; predicated instructions count under their opcode, and blocks a
step may skip (the attention's masking branch) count too.

    build/bin/turbo-compile --kernel=attention_prefill -o /tmp/a.ptx
    scripts/ptx-loop.py /tmp/a.ptx [--top 60]
"""
import argparse
import collections
import re
import sys


def longest_loop(lines):
    labels, best = {}, None
    for i, line in enumerate(lines):
        text = line.strip()
        label = re.match(r"^(\$L__BB\d+_\d+):", text)
        if label:
            labels[label.group(1)] = i
        branch = re.search(r"bra(\.uni)?\s+(\$L__BB\d+_\d+);", text)
        if branch and branch.group(2) in labels:
            start = labels[branch.group(2)]
            if best is None or i - start > best[1] - best[0]:
                best = (start, i)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ptx")
    parser.add_argument("--top", type=int, default=60, help="opcodes to list")
    args = parser.parse_args()
    lines = open(args.ptx).read().split("\n")
    loop = longest_loop(lines)
    if loop is None:
        sys.exit(f"{args.ptx}: no loop (no backward branch to a label)")
    counts = collections.Counter()
    for line in lines[loop[0]:loop[1] + 1]:
        text = line.strip()
        if not text or text.startswith(("$", "//", "{", "}", ".")):
            continue
        words = text.split()
        opcode = words[1] if words[0].startswith("@") else words[0]
        counts[opcode.rstrip(";")] += 1
    for opcode, count in counts.most_common(args.top):
        print(f"{count:6} {opcode}")
    print(f"{sum(counts.values()):6} instructions")


if __name__ == "__main__":
    main()
