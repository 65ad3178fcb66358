#!/usr/bin/env python3
"""turbo beside torch SDPA (flash and cuDNN backends), and SageAttention's
Triton INT8 kernels when their source folder is given, in one process on the
same tensors and GPU.

Prefill: head dims 64 and 128, sequences 1k/4k/16k with 16k tokens per batch
and hidden size 2048 (heads = 2048 / head dim), causal and not. Decode: GQA
32/8, head dim 128, one query token, four batch x context points. Every
method's output is checked against float64 attention on a slice before it is
timed; times are medians of CUDA-event timings after warm-up. Ceilings are
measured in the same run (device copy, BF16 and INT8 matrix products) and
each figure is also given as a fraction of its ceiling.

Writes <out>/benchmarks.json and <out>/benchmarks.svg.

    python3 run_benchmarks.py --out DIR [--sage-dir PATH] [--quick]
                              [--turbo-variant key=value,...]...
"""
import argparse
import datetime
import json
import math
import os
import statistics
import subprocess
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from chart import svg_chart  # noqa: E402  (beside this script, here and in the bundle)


def timed(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        samples.append(start.elapsed_time(stop))
    return statistics.median(samples)


def ceilings(warmup, repeats):
    """Measured peaks on this GPU: copy bandwidth (bytes read + written),
    BF16 and INT8 matrix products."""
    n = 1 << 30
    src = torch.empty(n, dtype=torch.uint8, device="cuda").random_(0, 255)
    dst = torch.empty_like(src)
    copy_ms = timed(lambda: dst.copy_(src), warmup, repeats)
    m = 8192
    a = torch.randn(m, m, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(m, m, device="cuda", dtype=torch.bfloat16)
    bf16_ms = timed(lambda: a @ b, warmup, repeats)
    ai = torch.randint(-128, 127, (m, m), device="cuda", dtype=torch.int8)
    # cuBLASLt's INT8 path wants the second matrix column-major; row-major
    # takes a slow fallback (measured 125 TOP/s instead of ~950).
    bi = torch.randint(-128, 127, (m, m), device="cuda", dtype=torch.int8).t().contiguous().t()
    int8_ms = timed(lambda: torch._int_mm(ai, bi), warmup, repeats)
    return {"copy_gbps": 2 * n / copy_ms / 1e6, "bf16_tflops": 2 * m ** 3 / bf16_ms / 1e9,
            "int8_tops": 2 * m ** 3 / int8_ms / 1e9}


def exact(q, k, v, causal, rows=128):
    """float64 attention for the first `rows` queries of batch 0, head 0."""
    group = q.shape[1] // k.shape[1]
    q64 = q[0, 0, :rows].double()
    k64, v64 = k[0, 0].double(), v[0, 0].double()
    del group
    s = q64 @ k64.T / q.shape[-1] ** 0.5
    if causal:
        offset = k.shape[2] - q.shape[2]
        r = torch.arange(q64.shape[0], device=q.device)[:, None]
        c = torch.arange(k.shape[2], device=q.device)[None, :]
        s = s.masked_fill(c > r + offset, float("-inf"))
    return torch.softmax(s, -1) @ v64


def rel_l2(out, ref, rows=128):
    got = out[0, 0, :rows].double()
    return ((got - ref).norm() / ref.norm()).item()


def sdpa(backend, q, k, v, causal):
    def run():
        with sdpa_kernel(backend):
            return torch.nn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=causal, enable_gqa=q.shape[1] != k.shape[1])
    return run


def load_sage(path):
    if not path:
        return None
    sys.path.insert(0, path)
    try:
        from sageattention import sageattn  # noqa: E402
        return sageattn
    except Exception as error:  # the peer is optional: say why it is missing
        print(f"SageAttention not loaded from {path}: {error}")
        return None


def prefill_methods(turbo, sage, q, k, v, causal, variants=()):
    methods = {
        "sdpa-flash": sdpa(SDPBackend.FLASH_ATTENTION, q, k, v, causal),
        "sdpa-cudnn": sdpa(SDPBackend.CUDNN_ATTENTION, q, k, v, causal),
    }
    if turbo is not None:
        plan = turbo.Plan(q_heads=q.shape[1], kv_heads=k.shape[1], head_dim=q.shape[-1],
                          dtype=q.dtype, causal=causal)
        out = torch.empty_like(q)
        methods["turbo"] = lambda: plan.prefill(q, k, v, out)
        # Quantization of K and V excluded: done once before timing, only the
        # attention kernel (Q's quantization is fused into it) is timed.
        workspace = plan.prefill_workspace(q, k, v)
        plan.prefill(q, k, v, out, steps="quantize_kv", workspace=workspace)
        methods["turbo attention only"] = (
            lambda: plan.prefill(q, k, v, out, steps="attention", workspace=workspace))
        for config in variants:
            # Bind per variant: a plan with its own kernel config, same tensors.
            variant = turbo.Plan(q_heads=q.shape[1], kv_heads=k.shape[1], head_dim=q.shape[-1],
                                 dtype=q.dtype, causal=causal, config=config)
            methods[f"turbo {config}"] = (lambda p: lambda: p.prefill(q, k, v, out))(variant)
    if sage is not None:
        methods["sage-int8"] = lambda: sage(q, k, v, tensor_layout="HND", is_causal=causal)
    return methods


def run_prefill(turbo, sage, args, results, peaks):
    tokens, hidden = 16384, 2048
    for d in (128, 64):
        heads = hidden // d
        for s in ((1024, 4096) if args.quick else (1024, 4096, 16384)):
            b = tokens // s
            q, k, v = (torch.randn(b, heads, s, d, device="cuda", dtype=torch.float16)
                       for _ in range(3))
            for causal in (False, True):
                ops = 4 * b * heads * s * s * d * (0.5 if causal else 1.0)
                ref = exact(q, k, v, causal)
                for name, fn in prefill_methods(turbo, sage, q, k, v, causal,
                                                args.turbo_variant).items():
                    try:
                        err = rel_l2(fn(), ref)
                        ms = timed(fn, args.warmup, args.repeats)
                    except Exception as error:
                        print(f"{name} prefill d{d} s{s} causal={causal}: {error}")
                        continue
                    tops = ops / ms / 1e9
                    ceiling = (peaks["int8_tops"] if name.startswith("turbo") or name == "sage-int8"
                               else peaks["bf16_tflops"])
                    row = {"kind": "prefill", "method": name, "head_dim": d, "heads": heads,
                           "batch": b, "seq": s, "causal": causal, "median_ms": ms, "tops": tops,
                           "fraction_of_ceiling": tops / ceiling, "rel_l2_vs_exact": err}
                    results.append(row)
                    print(f"prefill {name:<11} d{d:<4} s{s:<6} causal={int(causal)} "
                          f"{ms * 1e3:9.1f} us {tops:7.1f} TOPS ({100 * tops / ceiling:4.1f}% of "
                          f"ceiling)  rel L2 {err:.1e}", flush=True)


def run_decode(args, results, peaks):
    hq, hkv, d = 32, 8, 128
    for b, ctx in ((1, 4096), (16, 4096), (64, 2048), (8, 32768)):
        q = torch.randn(b, hq, 1, d, device="cuda", dtype=torch.float16)
        k, v = (torch.randn(b, hkv, ctx, d, device="cuda", dtype=torch.float16) for _ in range(2))
        ref = exact(q, k, v, False, rows=1)
        kv_bytes = 2 * b * hkv * ctx * d * 2
        for name, backend in (("sdpa-flash", SDPBackend.FLASH_ATTENTION),
                              ("sdpa-cudnn", SDPBackend.CUDNN_ATTENTION)):
            fn = sdpa(backend, q, k, v, False)
            try:
                err = rel_l2(fn(), ref, rows=1)
                ms = timed(fn, args.warmup, args.repeats)
            except Exception as error:
                print(f"{name} decode b{b} ctx{ctx}: {error}")
                continue
            gbps = kv_bytes / ms / 1e6
            results.append({"kind": "decode", "method": name, "batch": b, "context": ctx,
                            "q_heads": hq, "kv_heads": hkv, "head_dim": d, "median_ms": ms,
                            "kv_gbps": gbps, "fraction_of_ceiling": gbps / peaks["copy_gbps"],
                            "rel_l2_vs_exact": err})
            print(f"decode  {name:<11} b{b:<3} ctx{ctx:<6} {ms * 1e3:9.1f} us {gbps:7.0f} GB/s of KV "
                  f"({100 * gbps / peaks['copy_gbps']:4.1f}% of copy)  rel L2 {err:.1e}", flush=True)
        results.append({"kind": "decode", "method": "turbo", "batch": b, "context": ctx,
                        "status": "not implemented"})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--sage-dir", help="SageAttention source folder (optional peer)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="sequences 1k and 4k only")
    parser.add_argument("--no-turbo", action="store_true")
    parser.add_argument("--turbo-variant", action="append", default=[], metavar="CONFIG",
                        help="also time turbo with this prefill config (key=value,...); "
                             "repeatable, reported as 'turbo CONFIG'")
    args = parser.parse_args()
    torch.manual_seed(0)
    turbo = None
    if not args.no_turbo:
        sys.path.insert(0, os.path.join(HERE, "python"))
        import turbo as turbo_module
        turbo = turbo_module
    sage = load_sage(args.sage_dir)
    peaks = ceilings(args.warmup, args.repeats)
    print(f"ceilings: copy {peaks['copy_gbps']:.0f} GB/s, BF16 {peaks['bf16_tflops']:.0f} TFLOP/s, "
          f"INT8 {peaks['int8_tops']:.0f} TOP/s", flush=True)
    results = []
    run_prefill(turbo, sage, args, results, peaks)
    run_decode(args, results, peaks)
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
    commit = open(os.path.join(HERE, "COMMIT")).read().strip() if os.path.exists(
        os.path.join(HERE, "COMMIT")) else "unknown"
    record = {"date": datetime.date.today().isoformat(), "gpu": torch.cuda.get_device_name(),
              "nvidia_smi": smi, "torch": torch.__version__, "turbo_commit": commit,
              "turbo_version": turbo.version() if turbo else None, "ceilings": peaks,
              "results": results}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "benchmarks.json"), "w") as f:
        json.dump(record, f, indent=1)
    svg_chart(results, os.path.join(args.out, "benchmarks.svg"))
    print(f"wrote {args.out}/benchmarks.json and benchmarks.svg")


if __name__ == "__main__":
    main()
