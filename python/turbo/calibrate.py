"""Per-KV-head bit widths for the compressed KV cache, from sample K and V.

    python3 -m turbo.calibrate K.npy V.npy [--fraction-2bit 0.5] [-o bits.json]

K.npy and V.npy: what a model's attention saw on sample text, as NumPy
arrays [kv_heads, tokens, head_dim] or [batch, kv_heads, tokens, head_dim]
(any float dtype). Each head's priority is the mean over K and V of its
channels' range times their standard deviation; the lowest fraction of the
heads (default 1/2) gets 2 bits, the rest 4. Writes JSON:
{"bits": [...], "priorities": [...], "fraction_2bit": f, "tokens": n}, the
bits ready for turbo.Decoder(bits=...) or turbo_kv_cache_desc.kv_bits.
"""
import argparse
import json
import sys

import numpy as np

import turbo


def load(path):
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SystemExit(f"turbo.calibrate: cannot read {path}: {error}")
    if x.ndim == 4:  # [batch, heads, tokens, dim] -> [heads, batch * tokens, dim]
        x = x.transpose(1, 0, 2, 3).reshape(x.shape[1], -1, x.shape[3])
    if x.ndim != 3 or not np.issubdtype(x.dtype, np.floating):
        raise SystemExit(f"turbo.calibrate: {path} must hold floats shaped [kv_heads, tokens, "
                         f"head_dim] or [batch, kv_heads, tokens, head_dim], not {x.dtype} "
                         f"{x.shape}")
    return x


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m turbo.calibrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("k", help="sample K (.npy)")
    parser.add_argument("v", help="sample V (.npy)")
    parser.add_argument("--fraction-2bit", type=float, default=0.5,
                        help="share of the heads stored at 2 bits (default 0.5)")
    parser.add_argument("-o", "--output", help="JSON file (default: standard output)")
    args = parser.parse_args(argv)
    k, v = load(args.k), load(args.v)
    if k.shape != v.shape:
        raise SystemExit(f"turbo.calibrate: K {k.shape} and V {v.shape} differ in shape")
    try:
        bits, priorities = turbo.kv_calibrate(k, v, args.fraction_2bit)
    except turbo.TurboError as error:
        raise SystemExit(f"turbo.calibrate: {error}")
    text = json.dumps({"bits": bits, "priorities": priorities,
                       "fraction_2bit": args.fraction_2bit, "tokens": int(k.shape[1])}, indent=1)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
