#!/usr/bin/env python3
"""Times torch SDPA (flash and cuDNN backends) on the prefill shapes, for
comparison with turbo-bench on the same GPU in the same run.

TOPS = 4 * B * H * S^2 * D / time (half for causal); median of --repeats runs
after warm-up, CUDA events. Inputs are random normal; outputs are checked
against float64 attention on the first (batch, head) before timing.
"""
import argparse
import json
import statistics

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel


def exact(q, k, v, causal):
    q64, k64, v64 = (t[0, 0].double() for t in (q, k, v))
    s = q64 @ k64.T / q64.shape[-1] ** 0.5
    if causal:
        n = s.shape[0]
        s = s.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool, device=s.device), 1), float("-inf"))
    return torch.softmax(s, -1) @ v64


def run(backend, q, k, v, causal, warmup, repeats):
    with sdpa_kernel(backend):
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
        ref = exact(q, k, v, causal)
        rel = ((out[0, 0].double() - ref).norm() / ref.norm()).item()
        for _ in range(warmup):
            torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
        times = []
        for _ in range(repeats):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
    return statistics.median(times), rel


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=16384)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--seqs", default="1024,4096,16384")
    parser.add_argument("--dims", default="128,64")
    parser.add_argument("--dtype", default="f16")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--json")
    args = parser.parse_args()
    dtype = torch.float16 if args.dtype == "f16" else torch.bfloat16
    results = []
    print(f"{'method':<12} {'shape':<22} {'causal':>6} {'median us':>10} {'TOPS':>8}  rel L2 vs exact")
    for d in map(int, args.dims.split(",")):
        heads = args.hidden // d
        for s in map(int, args.seqs.split(",")):
            b = max(1, args.tokens // s)
            q, k, v = (torch.randn(b, heads, s, d, device="cuda", dtype=dtype) for _ in range(3))
            for causal in (False, True):
                flops = 4 * b * heads * s * s * d * (0.5 if causal else 1.0)
                for name, backend in (("sdpa-flash", SDPBackend.FLASH_ATTENTION),
                                      ("sdpa-cudnn", SDPBackend.CUDNN_ATTENTION)):
                    try:
                        ms, rel = run(backend, q, k, v, causal, args.warmup, args.repeats)
                    except RuntimeError as error:
                        print(f"{name:<12} b{b} h{heads} s{s} d{d}: {error}")
                        continue
                    tops = flops / (ms * 1e-3) / 1e12
                    shape = f"b{b} h{heads} s{s} d{d}"
                    print(f"{name:<12} {shape:<22} {int(causal):>6} {ms * 1e3:>10.1f} {tops:>8.1f}  {rel:.2e}")
                    results.append({"method": name, "batch": b, "heads": heads, "seq": s, "head_dim": d,
                                    "causal": causal, "median_us": ms * 1e3, "tops": tops,
                                    "rel_l2_vs_exact": rel})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
