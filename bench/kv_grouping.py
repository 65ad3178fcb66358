#!/usr/bin/env python3
"""How to group the cache's K and V: a float64 emulation (numpy, no GPU).

Decode of 4 query heads over one KV head of 4096 + 37 tokens (head dim 128):
full 64-token pages quantized asymmetrically at 8, 4 or 2 bits with f16
scales and zero points, grouped per channel over the page or per token; the
newest 37 tokens stay in the INT8 staging form (symmetric per token, linear
codes or the cache's square-root companded ones). Pages are compressed from
the staged INT8 values, as the cache does. Inputs:
N(0, 1) K/V, K with 4 outlier channels (x 20 + 5), and an attention sink
(a first key ~10 nats above the rest with a value vector 1/20 of typical).
Beside them: a float scheme of KIVI's kind (K per channel, V per token, no
INT8 stage, the newest tokens in f16), and K staged with per-channel
weights from the prompt (an option measured, not built). Relative L2
against exact attention, the mean of 5 draws (the same draws for every scheme).

    python3 bench/kv_grouping.py
"""
import numpy as np

P = 64


def f16(x):
    return x.astype(np.float16).astype(np.float64)


def quant_asym(x, axis, bits):
    lo, hi = x.min(axis=axis, keepdims=True), x.max(axis=axis, keepdims=True)
    levels = 2 ** bits - 1
    scale, zero = f16((hi - lo) / levels), f16(lo)
    codes = np.clip(np.rint((x - zero) / np.where(scale > 0, scale, 1)), 0, levels)
    return codes * scale + zero


def int8_token(x):
    scale = f16(np.abs(x).max(axis=-1, keepdims=True) / 127)
    return np.clip(np.rint(x / np.where(scale > 0, scale, 1)), -127, 127) * scale


def int8_token_companded(x):
    """kv::stageRow: code = sign(x) rint(127 sqrt(|x| / amax)), value = code |code| amax / 127^2."""
    amax = np.abs(x).max(axis=-1, keepdims=True)
    codes = np.sign(x) * np.rint(127 * np.sqrt(np.abs(x) / np.where(amax > 0, amax, 1)))
    return codes * np.abs(codes) * (amax / 127 ** 2)


def compress(x, group, bits, staged=True, weights=None, companded=False):
    full = (x.shape[0] // P) * P
    w = np.ones(x.shape[1]) if weights is None else weights
    stage = int8_token_companded if companded else int8_token
    xs = stage(x / w) * w if staged else x
    out = np.empty_like(x)
    for p0 in range(0, full, P):
        out[p0:p0 + P] = quant_asym(xs[p0:p0 + P], 0 if group == "channel" else 1, bits)
    out[full:] = xs[full:] if staged else f16(x[full:])
    return out


def attention(q, k, v):
    s = q @ k.T / np.sqrt(q.shape[-1])
    p = np.exp(s - s.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)) @ v


def inputs(kind, draw, tokens=4096 + 37, dim=128, queries=4):
    """Draw `draw` of `kind`: the same inputs for every scheme, so that the
    schemes' errors are compared on equal terms."""
    rng = np.random.default_rng([1, KINDS.index(kind), draw])
    q, k, v = (rng.standard_normal(shape) for shape in
               ((queries, dim), (tokens, dim), (tokens, dim)))
    if kind == "outliers":
        channels = rng.choice(dim, 4, replace=False)
        k[:, channels] = k[:, channels] * 20 + 5
    if kind == "sink":
        u = q.mean(0)
        k[0] = u / np.linalg.norm(u) * 10 * np.sqrt(dim) / np.linalg.norm(u) * 0.9 + 0.1 * k[0]
        v[0] /= 20
    return q, k, v


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


KINDS = ("normal", "outliers", "sink")
DRAWS = 5


def main():
    kinds = KINDS
    # name, K grouping, V grouping, staged, K weighted, companded staging
    schemes = [("K channel / V token (turbo), companded INT8 stage (turbo)", "channel", "token",
                True, False, True),
               ("K channel / V token, linear INT8 stage", "channel", "token", True, False, False),
               ("K token / V token", "token", "token", True, False, False),
               ("K channel / V channel", "channel", "channel", True, False, False),
               ("K token / V channel", "token", "channel", True, False, False),
               ("K channel / V token, K staged with prompt weights", "channel", "token", True,
                True, False),
               ("KIVI kind: float, no INT8 stage, f16 newest", "channel", "token", False, False,
                False)]
    for bits in (8, 4, 2):
        print(f"\n{bits} bits | " + " | ".join(kinds))
        for name, kg, vg, staged, weighted, companded in schemes:
            row = []
            for kind in kinds:
                errors = []
                for draw in range(DRAWS):
                    q, k, v = inputs(kind, draw)
                    weights = None
                    if weighted:
                        w = np.abs(k[:1024]).max(0)
                        weights = f16(np.maximum(w / w.max(), 1 / 64))
                    kc = compress(k, kg, bits, staged, weights, companded)
                    vc = compress(v, vg, bits, staged, companded=companded)
                    errors.append(rel(attention(q, kc, vc), attention(q, k, v)))
                row.append(np.mean(errors))
            print(f"{name} | " + " | ".join(f"{e:.2e}" for e in row))


if __name__ == "__main__":
    main()
