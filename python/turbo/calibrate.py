"""Per-KV-head bit widths for the compressed KV cache, from sample attention.

    python3 -m turbo.calibrate Q.npy K.npy V.npy [--fraction-2bit 0.5] [-o bits.json]
    python3 -m turbo.calibrate K.npy V.npy --method priority [...]

Q.npy, K.npy, V.npy: what a model's attention saw on sample text (not the
text you will judge it on), any float dtype: Q [q_heads, tokens, head_dim]
and K, V [kv_heads, tokens, head_dim] for one layer, or with a leading
layer axis, [layers, heads, tokens, head_dim], for a model. Queries as the
softmax sees them with scale 1/sqrt(head_dim) (for another scale s,
multiply Q by s * sqrt(head_dim)).

--method measured (the default): each KV head's loss is the error of its
attention over the cache with its pages at 2 bits, computed with turbo's
cache arithmetic, over the norm of its layer's exact attention output
(turbo_kv_calibrate). With several layers, the heads of all of them are
ranked together. --method priority: the paper's statistic from K and V
alone (channel range times deviation); on a real model it chose worse than
a random choice (docs/accuracy.md).

The lowest fraction of the heads (default 1/2) gets 2 bits, the rest 4.
With --max-rel-err E instead (measured only), each layer gets the most
2-bit heads whose predicted error stays within E: a layer's heads write
disjoint rows of its output, so its error over the exact output's norm is
the root of the sum of its heads' squared losses at their widths (the
losses measured at 2 and at 4 bits); "predicted_error" lists it per layer.
Writes JSON {"method", "bits", "scores", "fraction_2bit", "tokens"}: bits
and scores a list per layer ([kv_heads] for one layer), the bits ready for
turbo.Decoder(bits=...) or turbo_kv_cache_desc.kv_bits.
"""
import argparse
import json
import sys

import numpy as np

import turbo


def load(path, what):
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SystemExit(f"turbo.calibrate: cannot read {path}: {error}")
    if x.ndim not in (3, 4) or not np.issubdtype(x.dtype, np.floating):
        raise SystemExit(f"turbo.calibrate: {path} ({what}) must hold floats shaped [heads, "
                         f"tokens, head_dim] or [layers, heads, tokens, head_dim], not {x.dtype} "
                         f"{x.shape}")
    return x


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m turbo.calibrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", metavar="Q.npy K.npy V.npy",
                        help="sample queries, keys and values (K and V alone for --method "
                             "priority)")
    parser.add_argument("--method", choices=("measured", "priority"), default="measured")
    parser.add_argument("--fraction-2bit", type=float, default=0.5,
                        help="share of the heads stored at 2 bits (default 0.5)")
    parser.add_argument("--page-size", type=int, default=64)
    parser.add_argument("--sink-pages", type=int, default=None,
                        help="first pages the cache keeps staged (default: turbo's, 1)")
    parser.add_argument("--window-pages", type=int, default=None,
                        help="newest full pages the cache keeps staged (default: turbo's, 0)")
    parser.add_argument("--max-rel-err", type=float, default=None,
                        help="per-layer accuracy budget instead of --fraction-2bit (measured "
                             "only)")
    parser.add_argument("-o", "--output", help="JSON file (default: standard output)")
    args = parser.parse_args(argv)
    if args.method == "measured" and len(args.files) != 3:
        parser.error("the measured calibration needs sample queries: Q.npy K.npy V.npy (or "
                     "--method priority, from K.npy V.npy alone)")
    if len(args.files) not in (2, 3):
        parser.error("give Q.npy K.npy V.npy, or K.npy V.npy with --method priority")
    if args.max_rel_err is not None and args.method != "measured":
        parser.error("--max-rel-err needs the measured calibration")
    k, v = load(args.files[-2], "K"), load(args.files[-1], "V")
    if k.shape != v.shape:
        raise SystemExit(f"turbo.calibrate: K {k.shape} and V {v.shape} differ in shape")
    q = load(args.files[0], "Q") if len(args.files) == 3 else None
    if q is not None and q.ndim != k.ndim:
        raise SystemExit(f"turbo.calibrate: Q {q.shape} and K {k.shape} differ in their axes")
    one_layer = k.ndim == 3
    if one_layer:  # a layer axis of one
        k, v, q = k[None], v[None], None if q is None else q[None]
    if q is not None and (q.shape[0] != k.shape[0] or q.shape[2:] != k.shape[2:]):
        raise SystemExit(f"turbo.calibrate: Q {q.shape} does not match K {k.shape} in layers, "
                         f"tokens or head_dim")
    predicted = None
    try:
        if args.max_rel_err is not None:
            kept = (args.page_size, args.sink_pages, args.window_pages)
            scores = [turbo.kv_head_losses(q[i], k[i], v[i], 2, *kept) for i in range(k.shape[0])]
            at4 = [turbo.kv_head_losses(q[i], k[i], v[i], 4, *kept) for i in range(k.shape[0])]
            picks = [turbo.kv_pick_bits_within(scores[i], at4[i], args.max_rel_err)
                     for i in range(k.shape[0])]
            flat = [b for bits, _ in picks for b in bits]
            predicted = [error for _, error in picks]
        elif args.method == "measured":
            scores = [turbo.kv_calibrate(q[i], k[i], v[i], args.fraction_2bit, args.page_size,
                                         args.sink_pages, args.window_pages)[1]
                      for i in range(k.shape[0])]
        else:
            scores = [turbo.kv_head_priorities(k[i], v[i]) for i in range(k.shape[0])]
        if args.max_rel_err is None:
            flat = turbo.kv_pick_bits([s for layer in scores for s in layer], args.fraction_2bit)
    except turbo.TurboError as error:
        raise SystemExit(f"turbo.calibrate: {error}")
    heads = k.shape[1]
    bits = [flat[i * heads:(i + 1) * heads] for i in range(k.shape[0])]
    result = {"method": args.method, "bits": bits[0] if one_layer else bits,
              "scores": scores[0] if one_layer else scores,
              "fraction_2bit": args.fraction_2bit, "tokens": int(k.shape[2])}
    if predicted is not None:
        heads_total = len(flat)
        result["fraction_2bit"] = sum(b == 2 for b in flat) / heads_total
        result["max_rel_err"] = args.max_rel_err
        result["scores_4bit"] = at4[0] if one_layer else at4
        result["predicted_error"] = predicted[0] if one_layer else predicted
    text = json.dumps(result, indent=1)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
