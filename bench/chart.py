#!/usr/bin/env python3
"""The benchmark chart as plain SVG (no plotting library): prefill TOPS
against sequence length, one panel per (head dim, causal), one line per
method; below, decode time per method at each batch x context point.

run_benchmarks.py calls svg_chart; to redraw from a recorded run:

    python3 bench/chart.py bench/results/<run>.json out.svg
"""
import json
import math
import sys

COLORS = {"turbo": "#d62728", "sdpa-flash": "#1f77b4", "sdpa-cudnn": "#2ca02c",
          "sage-int8": "#9467bd"}
WIDTH, MARGIN = 900, 60
PANEL_W, PANEL_H = 380, 230


def _axis_ticks(parts, x0, y0, height, top, digits):
    for tick in range(5):
        value = top * tick / 4
        y = y0 + height - height * tick / 4
        parts.append(f'<line x1="{x0 - 4}" y1="{y}" x2="{x0}" y2="{y}" stroke="#888"/>')
        parts.append(f'<text x="{x0 - 6}" y="{y + 4}" text-anchor="end">{value:.{digits}f}</text>')


def _prefill_panels(parts, prefill):
    top = 1.05 * max([r["tops"] for r in prefill] + [1])
    seqs = sorted({r["seq"] for r in prefill}) or [1024]
    panels = [(d, c) for d in (128, 64) for c in (False, True)]
    for index, (d, causal) in enumerate(panels):
        x0 = MARGIN + (index % 2) * (PANEL_W + MARGIN + 20)
        y0 = 50 + (index // 2) * (PANEL_H + 80)
        parts.append(f'<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" '
                     'fill="none" stroke="#888"/>')
        parts.append(f'<text x="{x0 + PANEL_W / 2}" y="{y0 - 6}" text-anchor="middle">prefill, '
                     f'head dim {d}, {"causal" if causal else "non-causal"} (TOPS)</text>')
        _axis_ticks(parts, x0, y0, PANEL_H, top, 0)

        def xpos(s):
            if len(seqs) == 1:
                return x0 + PANEL_W / 2
            return x0 + 20 + (PANEL_W - 40) * (math.log2(s) - math.log2(seqs[0])) / (
                math.log2(seqs[-1]) - math.log2(seqs[0]))

        for s in seqs:
            parts.append(f'<text x="{xpos(s)}" y="{y0 + PANEL_H + 16}" '
                         f'text-anchor="middle">{s}</text>')
        for method, color in COLORS.items():
            points = sorted((r["seq"], r["tops"]) for r in prefill if r["method"] == method
                            and r["head_dim"] == d and r["causal"] == causal)
            if not points:
                continue
            coords = " ".join(f"{xpos(s):.1f},{y0 + PANEL_H - PANEL_H * t / top:.1f}"
                              for s, t in points)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" '
                         'stroke-width="2"/>')
            for s, t in points:
                parts.append(f'<circle cx="{xpos(s):.1f}" cy="{y0 + PANEL_H - PANEL_H * t / top:.1f}" '
                             f'r="3" fill="{color}"/>')
    return 50 + 2 * (PANEL_H + 80)


def _decode_panel(parts, decode, y0):
    """Grouped bars: one group per (batch, context), one bar per method."""
    x0, width, height = MARGIN, WIDTH - 2 * MARGIN, PANEL_H
    points = sorted({(r["batch"], r["context"]) for r in decode},
                    key=lambda p: p[0] * p[1])
    methods = [m for m in COLORS if any(r["method"] == m for r in decode)]
    top = 1.15 * max([r["median_ms"] * 1e3 for r in decode] + [1])  # room for the labels
    parts.append(f'<rect x="{x0}" y="{y0}" width="{width}" height="{height}" fill="none" '
                 'stroke="#888"/>')
    parts.append(f'<text x="{x0 + width / 2}" y="{y0 - 6}" text-anchor="middle">decode, GQA '
                 '32/8, head dim 128: time per call (us, lower is better)</text>')
    _axis_ticks(parts, x0, y0, height, top, 0)
    group = width / max(len(points), 1)
    bar = group * 0.7 / max(len(methods), 1)
    for i, (batch, context) in enumerate(points):
        gx = x0 + i * group + group * 0.15
        parts.append(f'<text x="{x0 + i * group + group / 2}" y="{y0 + height + 16}" '
                     f'text-anchor="middle">batch {batch}, context {context}</text>')
        for j, method in enumerate(methods):
            rows = [r for r in decode if r["method"] == method and r["batch"] == batch
                    and r["context"] == context]
            if not rows:
                continue
            us = rows[0]["median_ms"] * 1e3
            h = height * us / top
            parts.append(f'<rect x="{gx + j * bar:.1f}" y="{y0 + height - h:.1f}" '
                         f'width="{bar * 0.9:.1f}" height="{h:.1f}" fill="{COLORS[method]}"/>')
            parts.append(f'<text x="{gx + j * bar + bar * 0.45:.1f}" y="{y0 + height - h - 3:.1f}" '
                         f'text-anchor="middle" font-size="10">{us:.0f}</text>')
    if "turbo" not in methods:
        parts.append(f'<text x="{x0 + 8}" y="{y0 + 16}" fill="#d62728">turbo decode: not '
                     'implemented yet</text>')
    return y0 + height + 40


def svg_chart(results, path):
    prefill = [r for r in results if r["kind"] == "prefill"]
    # Rows without a time (a method not implemented yet) are not drawn.
    decode = [r for r in results if r["kind"] == "decode" and "median_ms" in r]
    parts = []
    y = _prefill_panels(parts, prefill)
    if decode:
        y = _decode_panel(parts, decode, y + 10)
    height = y + 30
    for i, (method, color) in enumerate(COLORS.items()):
        x = MARGIN + i * 150
        parts.append(f'<rect x="{x}" y="{height - 24}" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{x + 16}" y="{height - 14}">{method}</text>')
    parts.append(f'<text x="{WIDTH - 10}" y="{height - 14}" text-anchor="end">prefill x: '
                 'sequence length</text>')
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            'font-family="sans-serif" font-size="12">',
            '<rect width="100%" height="100%" fill="white"/>',
            f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">Attention on '
            'one GPU (prefill TOPS = 4 B H S^2 D / time, half when causal)</text>']
    with open(path, "w") as f:
        f.write("\n".join(head + parts + ["</svg>"]))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    svg_chart(json.load(open(sys.argv[1]))["results"], sys.argv[2])
