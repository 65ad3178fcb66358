#!/usr/bin/env python3
"""Accuracy on attention sinks, long tails and value outliers, on the GPU:
turbo (its P.V formats) beside SageAttention's Triton kernel (INT8 QK,
FP16 PV), SageAttention2 (INT8 QK, FP8 PV) and torch SDPA, each against
float64 attention on the same f16 inputs.

The inputs are built as turbo-accuracy builds them (docs/accuracy.md):
"normal" (Q, K, V ~ N(0, 1)); "sink:R" (key 0 about 10 nats above the rest
for every query, its value vector 1/R of the others'); "tail:G" (causal; key
0 G nats above a flat tail of keys); "vout" (16 tokens per head with value
vectors 20 times the others').

    python3 accuracy_peers.py --out DIR [--sage-dir PATH] [--seqs 4096,16384]

Writes DIR/accuracy-peers.json and prints a Markdown table (relative L2).
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F


def make_inputs(kind, heads, seq, d, generator):
    def normal(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    q, k, v = normal(heads, seq, d), normal(heads, seq, d), normal(heads, seq, d)
    base, _, parameter = kind.partition(":")
    causal = False

    def shared_direction():
        u = normal(heads, 1, d)
        return u / u.norm(dim=-1, keepdim=True)

    if base == "sink":
        ratio = float(parameter or 20)
        u = shared_direction()
        q = q + 2.0 * u
        k[:, 0] = u[:, 0] * 10.0 * math.sqrt(d) / 2.0
        v[:, 0] /= ratio
    elif base == "tail":
        causal, gap = True, float(parameter or 6)
        u = shared_direction()
        q = 0.1 * q + 2.0 * u
        k = 0.05 * k
        k[:, 0] = u[:, 0] * gap * math.sqrt(d) / 2.0
    elif base == "vout":
        for h in range(heads):
            rows = torch.randint(0, seq, (16,), generator=generator)
            v[h, rows] *= 20.0
    half = lambda x: x.to(torch.float16)  # noqa: E731
    return half(q)[None], half(k)[None], half(v)[None], causal


def exact_attention(q, k, v, causal):
    """float64 on the GPU, one head at a time (the score matrix of one head)."""
    out = torch.empty(q.shape, dtype=torch.float64, device=q.device)
    scale = 1.0 / math.sqrt(q.shape[-1])
    for h in range(q.shape[1]):
        s = q[0, h].double() @ k[0, h].double().T * scale
        if causal:
            n = s.shape[0]
            s.masked_fill_(torch.ones(n, n, dtype=torch.bool, device=s.device).triu(1),
                           float("-inf"))
        out[0, h] = torch.softmax(s, dim=-1) @ v[0, h].double()
    return out


def relative_l2(got, exact):
    got = got.double()
    return ((got - exact).norm() / exact.norm()).item()


def methods(turbo, sage_dir, heads, d, causal):
    found = {}
    if turbo is not None:
        for name, config in (("turbo pv=int8", "pv=int8"),
                             ("turbo pv=mixed (default)", "pv=mixed"),
                             ("turbo pv=mixed, threshold 14", "pv=mixed,sas_threshold_half=14"),
                             ("turbo pv=half", "pv=half")):
            plan = turbo.Plan(q_heads=heads, kv_heads=heads, head_dim=d, dtype=torch.float16,
                              causal=causal, config=config)
            found[name] = (lambda p: lambda q, k, v: p.prefill(q, k, v))(plan)
    if sage_dir:
        sys.path.insert(0, sage_dir)
        try:
            from sageattention import sageattn, sageattn_qk_int8_pv_fp16_triton
            found["sage triton (int8 qk, fp16 pv)"] = lambda q, k, v: (
                sageattn_qk_int8_pv_fp16_triton(q, k, v, tensor_layout="HND", is_causal=causal))
            found["sage2 (int8 qk, fp8 pv)"] = lambda q, k, v: sageattn(
                q, k, v, tensor_layout="HND", is_causal=causal)
        except Exception as error:  # the peers are optional: say why they are missing
            print(f"SageAttention not loaded from {sage_dir}: {error}")
    found["sdpa (f16)"] = lambda q, k, v: F.scaled_dot_product_attention(q, k, v,
                                                                         is_causal=causal)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--sage-dir", default="")
    parser.add_argument("--seqs", default="4096,16384")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=128)
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "python"))
    try:
        import turbo
    except Exception as error:
        print(f"turbo not loaded: {error}")
        turbo = None
    generator = torch.Generator().manual_seed(2026)
    results = []
    kinds = ["normal", "sink:20", "sink:100", "tail:6", "tail:10", "vout"]
    for seq in [int(s) for s in args.seqs.split(",")]:
        for kind in kinds:
            q, k, v, causal = make_inputs(kind, args.heads, seq, args.head_dim, generator)
            q, k, v = q.cuda(), k.cuda(), v.cuda()
            exact = exact_attention(q, k, v, causal)
            row = {"kind": kind, "seq": seq, "causal": causal}
            for name, fn in methods(turbo, args.sage_dir, args.heads, args.head_dim,
                                    causal).items():
                try:
                    row[name] = relative_l2(fn(q, k, v), exact)
                except Exception as error:
                    row[name] = f"failed: {error}"
            results.append(row)
            print(json.dumps(row), flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "accuracy-peers.json"), "w") as file:
        json.dump({"gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
                   "heads": args.heads, "head_dim": args.head_dim, "rows": results}, file,
                  indent=1)
    names = [n for n in results[0] if n not in ("kind", "seq", "causal")]
    print("\n| input | seq | " + " | ".join(names) + " |")
    print("| --- | --- |" + " --- |" * len(names))
    for row in results:
        cells = [f"{row[n]:.2e}" if isinstance(row[n], float) else row[n] for n in names]
        print(f"| {row['kind']} | {row['seq']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
