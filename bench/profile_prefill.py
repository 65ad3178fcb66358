#!/usr/bin/env python3
"""GPU time of each kernel of turbo's prefill (K's channel means, K/V to INT8,
attention) with torch.profiler (CUPTI sees kernels launched through the
driver API too): where the time of "turbo" beyond "turbo attention only"
goes. Runs inside the bundle:

    python3 profile_prefill.py [--config key=value,...]
"""
import argparse
import collections
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))
import turbo  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="", help="kernel config for the plans")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seqs", default="1024,4096,16384", help="sequence lengths")
    args = parser.parse_args()
    tokens = 16384
    print(f"{'shape':<28} {'kernel':<22} {'us per call':>12}")
    for head_dim in (128, 64):
        heads = 2048 // head_dim
        for seq in (int(x) for x in args.seqs.split(",")):
            for causal in (False, True):
                batch = tokens // seq
                q, k, v = (torch.randn(batch, heads, seq, head_dim, device="cuda",
                                       dtype=torch.float16) for _ in range(3))
                plan = turbo.Plan(q_heads=heads, kv_heads=heads, head_dim=head_dim,
                                  dtype=torch.float16, causal=causal, config=args.config)
                out = torch.empty_like(q)
                for _ in range(3):
                    plan.prefill(q, k, v, out)
                torch.cuda.synchronize()
                with profile(activities=[ProfilerActivity.CUDA]) as prof:
                    for _ in range(args.runs):
                        plan.prefill(q, k, v, out)
                    torch.cuda.synchronize()
                totals = collections.defaultdict(float)
                for event in prof.events():
                    if event.device_type == torch.autograd.DeviceType.CUDA:
                        totals[event.name] += event.device_time_total
                shape = f"d{head_dim} s{seq} b{batch} {'causal' if causal else 'non-causal'}"
                for name, total in sorted(totals.items(), key=lambda item: -item[1]):
                    print(f"{shape:<28} {name[:22]:<22} {total / args.runs:>12.1f}")


if __name__ == "__main__":
    main()
