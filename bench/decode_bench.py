#!/usr/bin/env python3
"""Decode steps: turbo's attention_decode over the compressed, paged KV cache
beside torch SDPA's flash and cuDNN backends over BF16 K/V, in one run on
one GPU.

GQA 32/8, head dim 128, one query token per sequence; batch x context in
{1x4k, 1x32k, 8x32k, 16x8k, 64x4k, 128x2k}. SDPA: median of CUDA-event timings
after warm-up, output checked against float64 attention on the first
sequence. turbo: turbo-bench --kernel=attention_decode (built beside this
script, or --turbo-bench), which checks sequence 0 against the CPU reference
and times with CUDA events; its bandwidth counts the compressed bytes a step
reads. The copy ceiling is measured in the same run. An append step's cost
(one token per sequence; amortized over a page) is measured beside them.

    python3 decode_bench.py --out DIR [--turbo-bench PATH] [--kv-bits mixed,4,2] [--no-append]
                            [--shapes 1x4096,64x4096,...]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run_benchmarks import timed  # noqa: E402  (beside this script, here and in the bundle)
SHAPES = ((1, 4096), (1, 32768), (8, 32768), (16, 8192), (64, 4096), (128, 2048))


def copy_gbps(warmup, repeats):
    n = 1 << 30
    src = torch.empty(n, dtype=torch.uint8, device="cuda").random_(0, 255)
    dst = torch.empty_like(src)
    ms = timed(lambda: dst.copy_(src), warmup, repeats)
    return 2 * n / ms / 1e6


def sdpa_step(backend, q, k, v):
    def run():
        with sdpa_kernel(backend):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    return run


def sdpa_rows(args, results):
    hq, hkv, d = 32, 8, 128
    for b, ctx in args.shapes:
        q = torch.randn(b, hq, 1, d, device="cuda", dtype=torch.bfloat16)
        k, v = (torch.randn(b, hkv, ctx, d, device="cuda", dtype=torch.bfloat16)
                for _ in range(2))
        # float64 reference on the first sequence
        q0, k0, v0 = (x[:1].double() for x in (q, k, v))
        k0, v0 = (x.repeat_interleave(hq // hkv, dim=1) for x in (k0, v0))
        ref = torch.softmax(q0 @ k0.transpose(-1, -2) / d ** 0.5, dim=-1) @ v0
        kv_bytes = 2 * b * hkv * ctx * d * 2
        for name, backend in (("sdpa-flash", SDPBackend.FLASH_ATTENTION),
                              ("sdpa-cudnn", SDPBackend.CUDNN_ATTENTION)):
            fn = sdpa_step(backend, q, k, v)
            try:
                out = fn()
                err = ((out[:1].double() - ref).norm() / ref.norm()).item()
                ms = timed(fn, args.warmup, args.repeats)
            except Exception as error:  # a backend that does not take this shape
                print(f"{name} b{b} ctx{ctx}: {error}", flush=True)
                continue
            row = {"method": name, "batch": b, "context": ctx, "median_us": ms * 1e3,
                   "gbps": kv_bytes / ms / 1e6, "rel_l2_vs_exact": err}
            results.append(row)
            print(f"{name:<14} b{b:<4} ctx{ctx:<6} {ms * 1e3:9.1f} us {row['gbps']:7.0f} GB/s "
                  f"rel L2 {err:.1e}", flush=True)
        del q, k, v


def turbo_rows(args, results):
    scratch = tempfile.mkdtemp()
    for bits in args.kv_bits.split(","):
        for b, ctx in args.shapes:
            path = os.path.join(scratch, f"decode-{bits}-b{b}-ctx{ctx}.json")
            cmd = [args.turbo_bench, "--kernel=attention_decode", "--preset=llama3-8b",
                   f"--kv-bits={bits}", f"--batch={b}", f"--context={ctx}",
                   f"--warmup={args.warmup}", f"--repeats={args.repeats}", f"--json={path}"]
            if args.config:
                cmd.append(f"--config={args.config}")
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0 or not os.path.exists(path):
                print(f"turbo kv{bits} b{b} ctx{ctx}: failed\n{run.stdout}{run.stderr}", flush=True)
                results.append({"method": f"turbo-kv{bits}", "batch": b, "context": ctx,
                                "status": "failed"})
                continue
            got = json.load(open(path))
            row = {"method": f"turbo-kv{bits}", "batch": b, "context": ctx,
                   "median_us": got["median_us"], "gbps": got["gbps"], "splits": got["splits"],
                   "verified": got["verified"], "config": got["config"]}
            results.append(row)
            print(f"{row['method']:<14} b{b:<4} ctx{ctx:<6} {row['median_us']:9.1f} us "
                  f"{row['gbps']:7.0f} GB/s (compressed bytes) splits {row['splits']} "
                  f"verified {row['verified']}", flush=True)


def append_rows(args, results):
    """One append step (kv_stage + kv_compress) of one token per sequence: a
    step that fills no page and one that fills and compresses one; the
    amortized cost is (63 x the first + the second) / 64."""
    scratch = tempfile.mkdtemp()
    bits = args.kv_bits.split(",")[0]
    for b, ctx in args.shapes:
        times = {}
        for label, context in (("stage", ctx), ("compress", ctx - 1)):
            path = os.path.join(scratch, f"append-{label}-b{b}-ctx{ctx}.json")
            cmd = [args.turbo_bench, "--kernel=kv_stage", "--preset=llama3-8b",
                   f"--kv-bits={bits}", f"--batch={b}", f"--context={context}",
                   f"--warmup={args.warmup}", f"--repeats={args.repeats}", f"--json={path}"]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0 or not os.path.exists(path):
                print(f"append {label} b{b} ctx{ctx}: failed\n{run.stdout}{run.stderr}", flush=True)
                break
            times[label] = json.load(open(path))["median_us"]
        if len(times) == 2:
            amortized = (63 * times["stage"] + times["compress"]) / 64
            results.append({"method": f"turbo-append-kv{bits}", "batch": b, "context": ctx,
                            "stage_us": times["stage"], "compress_us": times["compress"],
                            "median_us": amortized})
            print(f"append kv{bits} b{b:<4} ctx{ctx:<6} {times['stage']:8.1f} us, "
                  f"{times['compress']:8.1f} us filling a page, {amortized:8.1f} us amortized",
                  flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--turbo-bench", default=os.path.join(HERE, "bin", "turbo-bench"))
    parser.add_argument("--kv-bits", default="mixed,4,2")
    parser.add_argument("--config", default="", help="attention_decode config overrides")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--no-append", action="store_true",
                        help="leave out the append step's rows")
    parser.add_argument("--shapes", default=",".join(f"{b}x{c}" for b, c in SHAPES),
                        help="batch x context pairs, in the order to run them")
    args = parser.parse_args()
    args.shapes = [tuple(int(x) for x in shape.split("x")) for shape in args.shapes.split(",")]
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    copy = copy_gbps(args.warmup, args.repeats)
    print(f"copy ceiling {copy:.0f} GB/s", flush=True)
    results = []
    sdpa_rows(args, results)
    turbo_rows(args, results)
    if not args.no_append:
        append_rows(args, results)
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
    commit_file = os.path.join(HERE, "COMMIT")
    record = {"date": datetime.date.today().isoformat(), "gpu": torch.cuda.get_device_name(),
              "nvidia_smi": smi, "torch": torch.__version__,
              "turbo_commit": open(commit_file).read().strip() if os.path.exists(commit_file)
              else "unknown",
              "copy_gbps": copy, "results": results}
    with open(os.path.join(args.out, "decode.json"), "w") as f:
        json.dump(record, f, indent=1)
    # The table: time per step, each turbo row beside the faster SDPA backend.
    print(f"\n{'shape':<12} {'flash us':>9} {'cudnn us':>9}", end="")
    methods = [f"turbo-kv{b}" for b in args.kv_bits.split(",")]
    for m in methods:
        print(f" {m + ' us':>15} {'x':>6}", end="")
    print()
    for b, ctx in args.shapes:
        def get(m):
            for r in results:
                if r["method"] == m and r["batch"] == b and r["context"] == ctx and "median_us" in r:
                    return r["median_us"]
            return None
        flash, cudnn = get("sdpa-flash"), get("sdpa-cudnn")
        best = min(x for x in (flash, cudnn) if x) if (flash or cudnn) else None
        print(f"{b}x{ctx:<9} {flash or float('nan'):9.1f} {cudnn or float('nan'):9.1f}", end="")
        for m in methods:
            t = get(m)
            print(f" {t or float('nan'):15.1f} {(best / t) if (t and best) else float('nan'):6.2f}",
                  end="")
        print()
    print(f"wrote {args.out}/decode.json")


if __name__ == "__main__":
    main()
