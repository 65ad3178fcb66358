#!/usr/bin/env python3
"""Markdown tables from a run_benchmarks.py JSON (for docs/performance.md).

    python3 bench/report.py bench/results/<date>-benchmarks-h200.json
"""
import json
import sys


def main(path):
    run = json.load(open(path))
    c = run["ceilings"]
    print(f"{run['date']}, {run['gpu']} ({run['nvidia_smi']}), torch {run['torch']}, "
          f"turbo {run['turbo_commit']}. Ceilings measured in the same run: copy "
          f"{c['copy_gbps']:.0f} GB/s, BF16 GEMM {c['bf16_tflops']:.0f} TFLOP/s, INT8 GEMM "
          f"{c['int8_tops']:.0f} TOP/s.\n")
    prefill = [r for r in run["results"] if r["kind"] == "prefill"]
    methods = sorted({r["method"] for r in prefill}, key=lambda m: (m != "turbo", m))
    print("| head dim | seq | batch | causal | " + " | ".join(f"{m} TOPS" for m in methods)
          + " | turbo / flash | turbo rel L2 |")
    print("| --- " * (4 + len(methods) + 2) + "|")
    keys = sorted({(r["head_dim"], r["seq"], r["batch"], r["causal"]) for r in prefill},
                  key=lambda k: (-k[0], k[1], k[3]))
    for d, s, b, causal in keys:
        row = {r["method"]: r for r in prefill
               if (r["head_dim"], r["seq"], r["batch"], r["causal"]) == (d, s, b, causal)}
        cells = [f"{row[m]['tops']:.1f}" if m in row else "-" for m in methods]
        ratio = (f"{row['turbo']['tops'] / row['sdpa-flash']['tops']:.2f}x"
                 if "turbo" in row and "sdpa-flash" in row else "-")
        err = f"{row['turbo']['rel_l2_vs_exact']:.1e}" if "turbo" in row else "-"
        print(f"| {d} | {s} | {b} | {'yes' if causal else 'no'} | " + " | ".join(cells)
              + f" | {ratio} | {err} |")
    decode = [r for r in run["results"] if r["kind"] == "decode" and "median_ms" in r]
    if decode:
        print("\n| decode (GQA 32/8, d128) | batch | context | median us | GB/s of KV | % of copy |")
        print("| --- | --- | --- | --- | --- | --- |")
        for r in decode:
            print(f"| {r['method']} | {r['batch']} | {r['context']} | {r['median_ms'] * 1e3:.1f} | "
                  f"{r['kv_gbps']:.0f} | {100 * r['fraction_of_ceiling']:.0f}% |")
        print("\nturbo decode: not implemented yet.")


if __name__ == "__main__":
    main(sys.argv[1])
