"""The Python binding without a GPU (CI): compiling, errors, no driver.

Run with TURBO_LIBRARY=<build>/lib/libturbo.so.0 and TURBO_LIBCUDA pointing
at a path that does not exist (ctest sets both)."""
import os
import pickle
import unittest

import numpy as np

import turbo


class BindingWithoutGpu(unittest.TestCase):
    def test_versions_and_lists(self):
        self.assertEqual(turbo.version(), "0.1.0")
        self.assertTrue(turbo.llvm_version().startswith("22."))
        self.assertIn("attention_prefill", turbo.templates())
        self.assertIn("quantize_rows", turbo.templates())
        self.assertIn("llama3-8b", turbo.presets())

    def test_compile_template(self):
        ptx = turbo.compile_template("quantize_rows")
        self.assertIn(".entry quantize_rows", ptx)
        ir = turbo.compile_template("attention_prefill", "turbo", "block_n=32", preset="qwen2-7b",
                                    dtype="bf16", causal=True, target="sm_80")
        self.assertIn('turbo.target = "sm_80"', ir)
        self.assertIn("!turbo.ptr<bf16>", ir)
        self.assertIn("causal = 1", ir)
        self.assertIn("block_n = 32", ir)

    def test_errors_carry_status_and_message(self):
        with self.assertRaises(turbo.TurboError) as caught:
            turbo.compile_template("nope")
        self.assertEqual(caught.exception.status, 1)
        self.assertEqual(caught.exception.status_name, "invalid argument")
        self.assertIn("unknown template 'nope'", caught.exception.message)
        with self.assertRaises(turbo.TurboError) as caught:
            turbo.compile_template("quantize_rows", "ptx", q_heads=30, kv_heads=8)
        self.assertIn("multiple of kv-heads", str(caught.exception))
        with self.assertRaises(turbo.TurboError):
            turbo.compile_template("quantize_rows", "ptx", dtype="float32")
        with self.assertRaises(turbo.TurboError):
            turbo.compile_template("quantize_rows", "ptx", preset="gpt5")
        # Raised in a worker process, the error comes back whole.
        copy = pickle.loads(pickle.dumps(caught.exception))
        self.assertEqual((copy.status, copy.message),
                         (caught.exception.status, caught.exception.message))

    def test_no_driver(self):
        self.assertTrue(os.environ.get("TURBO_LIBCUDA"))
        with self.assertRaises(turbo.TurboError) as caught:
            turbo.Context(device=0)
        self.assertEqual(caught.exception.status, 2)
        self.assertIn("no CUDA driver", caught.exception.message)


    def test_attention_prefill_reference(self):
        # The kernel's CPU arithmetic against float64 attention computed
        # here: GQA 6/2, causal, 80 queries over 80 keys, head dim 64.
        import numpy as np
        rng = np.random.default_rng(9)
        q = rng.standard_normal((1, 6, 80, 64)).astype(np.float16)
        k = rng.standard_normal((1, 2, 80, 64)).astype(np.float16)
        v = rng.standard_normal((1, 2, 80, 64)).astype(np.float16)
        out, lse = turbo.attention_prefill_reference(q, k, v, causal=True, return_lse=True)
        self.assertEqual(out.dtype, np.float16)
        self.assertEqual(out.shape, q.shape)
        self.assertEqual(lse.shape, (1, 6, 80))
        kk = np.repeat(k.astype(np.float64), 3, axis=1)
        vv = np.repeat(v.astype(np.float64), 3, axis=1)
        scores = q.astype(np.float64) @ kk.transpose(0, 1, 3, 2) / 8.0
        scores[..., np.triu_indices(80, 1)[0], np.triu_indices(80, 1)[1]] = -np.inf
        top = scores.max(-1, keepdims=True)
        weights = np.exp(scores - top)
        exact = weights @ vv / weights.sum(-1, keepdims=True)
        exact_lse = (top[..., 0] + np.log(weights.sum(-1)))
        error = np.linalg.norm(out.astype(np.float64) - exact) / np.linalg.norm(exact)
        self.assertTrue(np.isfinite(out).all())
        self.assertLess(error, 2.5e-2)  # INT8 Q.K; P.V of these 80 keys in 16 bits
        self.assertLess(np.abs(lse - exact_lse).max(), 0.05)
        # The default pv=mixed holds the first block of keys (here all 80) in
        # 16 bits: closer than u8 P times INT8 V on the same inputs.
        int8 = turbo.attention_prefill_reference(q, k, v, causal=True, config="pv=int8")
        self.assertLess(error,
                        np.linalg.norm(int8.astype(np.float64) - exact) / np.linalg.norm(exact))
        with self.assertRaises(turbo.TurboError) as caught:
            turbo.attention_prefill_reference(q, k[:, :1].repeat(4, axis=1), v, causal=True)
        self.assertIn("shapes do not match", caught.exception.message)
        with self.assertRaises(turbo.TurboError):
            turbo.attention_prefill_reference(q.astype(np.float32), k, v)
        with self.assertRaises(turbo.TurboError) as caught:
            turbo.attention_prefill_reference(q, k, v, config="block_n=3")
        self.assertEqual(caught.exception.status, 1)

    def test_kv_cache_layout(self):
        mixed = turbo.kv_cache_layout(8, 128, [4, 2] * 4)
        all4 = turbo.kv_cache_layout(8, 128, 4)
        # 4 bits: codes 2 x 64 x 64 bytes, K scale+zero 512, V scale+zero 256 per head
        self.assertEqual(all4["page_bytes"], 8 * (2 * 4096 + 768))
        self.assertGreaterEqual(512 / all4["bytes_per_token"], 3.5)
        self.assertGreaterEqual(512 / mixed["bytes_per_token"], 4.4)
        with self.assertRaises(turbo.TurboError):
            turbo.kv_cache_layout(8, 96, 4)
        with self.assertRaises(turbo.TurboError):
            turbo.kv_cache_layout(2, 128, [4, 3])
        # Kept pages: the defaults (one sink page), and a window; rows of a
        # head's part of a slot, INT8 K and V and two f32 scales per row.
        self.assertEqual((mixed["sink_pages"], mixed["window_pages"]), (1, 0))
        self.assertEqual(mixed["staging_rows"], 2 * 64)
        kept = turbo.kv_cache_layout(8, 128, 4, 64, sink_pages=2, window_pages=3)
        self.assertEqual(kept["staging_rows"], 6 * 64)
        self.assertEqual(kept["staging_slot_bytes"], 8 * 6 * 64 * (2 * 128 + 8))
        with self.assertRaises(turbo.TurboError):
            turbo.kv_cache_layout(8, 128, 4, 64, sink_pages=65)

    def test_compressed_cache_on_the_cpu(self):
        # Prompts of 150 and 70 tokens written into a host cache, then one
        # query token per sequence over it: at 8 bits the output is close to
        # float64 attention over the original K/V, at 2 bits far worse; every
        # element of the (NaN-poisoned) output is written.
        rng = np.random.default_rng(3)
        b, kv, g, s, d = 2, 2, 3, 150, 64
        k = rng.standard_normal((b, kv, s, d)).astype(np.float16)
        v = rng.standard_normal((b, kv, s, d)).astype(np.float16)
        q = rng.standard_normal((b, kv * g, 1, d)).astype(np.float16)
        lens = np.array([150, 70], dtype=np.int32)
        ref = np.empty(q.shape)
        for i in range(b):
            for h in range(kv * g):
                keys = k[i, h // g, :lens[i]].astype(np.float64)
                x = q[i, h, 0].astype(np.float64) @ keys.T / np.sqrt(d)
                w = np.exp(x - x.max())
                ref[i, h, 0] = w @ v[i, h // g, :lens[i]].astype(np.float64) / w.sum()
        errors = {}
        for bits in ([8, 8], [2, 2]):
            pool, staging, table, seq_lens = turbo.kv_write_prompt_reference(k, v, bits, 64,
                                                                             lens)
            self.assertEqual(table.shape, (2, 2))
            out = turbo.attention_decode_reference(q, pool, staging, table, seq_lens, bits, 64)
            self.assertFalse(np.isnan(out).any())
            errors[bits[0]] = np.linalg.norm(out - ref) / np.linalg.norm(ref)
        self.assertLess(errors[8], 3e-2)
        self.assertGreater(errors[2], 5 * errors[8])
        # Every page kept in INT8 (sink and window): 2-bit heads then lose
        # nothing to their width, and the cache must be read as written.
        kept = dict(sink_pages=1, window_pages=1)
        pool, staging, table, seq_lens = turbo.kv_write_prompt_reference(k, v, [2, 2], 64, lens,
                                                                         **kept)
        out = turbo.attention_decode_reference(q, pool, staging, table, seq_lens, [2, 2], 64,
                                               **kept)
        self.assertLess(np.linalg.norm(out - ref) / np.linalg.norm(ref), 3e-2)
        mismatched = turbo.attention_decode_reference(q, pool, staging, table, seq_lens, [2, 2],
                                                      64)
        self.assertFalse(np.linalg.norm(mismatched - ref) / np.linalg.norm(ref) < 0.1)  # or NaN
        with self.assertRaises(turbo.TurboError):
            turbo.attention_decode_reference(q, pool, staging, table, seq_lens, 2, 64)
        with self.assertRaises(turbo.TurboError):  # 3 widths for 2 KV heads
            turbo.kv_write_prompt_reference(k, v, [4, 4, 4], 64)

    def test_kv_calibrate(self):
        # Heads with small K/V matter little to the layer's output: the
        # measured calibration puts them at 2 bits; so does the statistic.
        rng = np.random.default_rng(4)
        scales = np.array([1.0, 0.1, 2.0, 0.3])
        q = rng.standard_normal((8, 200, 64))
        k = rng.standard_normal((4, 200, 64)) * scales[:, None, None]
        v = rng.standard_normal((4, 200, 64)) * scales[:, None, None]
        bits, losses = turbo.kv_calibrate(q, k, v, 0.5)
        self.assertEqual(bits, [4, 2, 4, 2])
        self.assertEqual(sorted(range(4), key=lambda h: losses[h]), [1, 3, 0, 2])
        priorities = turbo.kv_head_priorities(k, v)
        self.assertEqual(sorted(range(4), key=lambda h: priorities[h]), [1, 3, 0, 2])
        self.assertEqual(turbo.kv_pick_bits([0.5, 0.1, 0.2], 0.7), [4, 2, 2])
        with self.assertRaises(turbo.TurboError):
            turbo.kv_calibrate(q, k, v[:, :10])
        with self.assertRaises(turbo.TurboError):
            turbo.kv_calibrate(q[:6], k, v)  # 6 query heads for 4 KV heads
        k[2, 5, 5] = np.nan
        with self.assertRaises(turbo.TurboError):
            turbo.kv_calibrate(q, k, v)
        with self.assertRaises(turbo.TurboError):
            turbo.kv_head_priorities(k, v)

    def test_calibrate_command(self):
        import json
        import subprocess
        import sys
        import tempfile
        rng = np.random.default_rng(5)
        # Two layers of four KV heads; layer 1's heads 0 and 2 are small, so
        # the model's four 2-bit heads are there and in layer 0's smaller ones.
        scales = np.array([[0.5, 1.0, 0.4, 3.0], [0.05, 1.0, 0.05, 2.0]])[:, :, None, None]
        with tempfile.TemporaryDirectory() as tmp:
            q, k, v = (os.path.join(tmp, name) for name in ("q.npy", "k.npy", "v.npy"))
            np.save(q, rng.standard_normal((2, 8, 150, 64)).astype(np.float16))
            np.save(k, (rng.standard_normal((2, 4, 150, 64)) * scales).astype(np.float16))
            np.save(v, (rng.standard_normal((2, 4, 150, 64)) * scales).astype(np.float32))
            out = os.path.join(tmp, "bits.json")
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
            command = [sys.executable, "-m", "turbo.calibrate"]
            run = subprocess.run(command + [q, k, v, "-o", out], env=env, capture_output=True,
                                 text=True)
            self.assertEqual(run.returncode, 0, run.stderr)
            with open(out) as f:
                result = json.load(f)
            self.assertEqual(result["method"], "measured")
            self.assertEqual(result["bits"], [[2, 4, 2, 4], [2, 4, 2, 4]])
            self.assertEqual(result["tokens"], 150)
            self.assertEqual(len(result["scores"]), 2)
            run = subprocess.run(command + [k, v, "--method", "priority"], env=env,
                                 capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertEqual(json.loads(run.stdout)["method"], "priority")
            missing = subprocess.run(command + [k, v], env=env, capture_output=True, text=True)
            self.assertNotEqual(missing.returncode, 0)
            self.assertIn("needs sample queries", missing.stderr)
            np.save(v, np.zeros((4, 10, 64), dtype=np.float32))
            bad = subprocess.run(command + [q, k, v], env=env, capture_output=True, text=True)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("differ in shape", bad.stderr)

if __name__ == "__main__":
    unittest.main()
