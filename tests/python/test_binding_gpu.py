"""The Python binding on a GPU, with torch: the smoke kernel bit-exact against
the same arithmetic in torch on the CPU, prefill against float64 attention,
and argument checks that fire before any launch."""
import unittest

try:
    import torch
    HAVE_GPU = torch.cuda.is_available()
except ImportError:
    HAVE_GPU = False

import turbo


def exact_attention(q, k, v, causal):
    q, k, v = q.double(), k.double(), v.double()
    group = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if causal:
        sq, sk = q.shape[2], k.shape[2]
        rows = torch.arange(sq, device=q.device)[:, None]
        cols = torch.arange(sk, device=q.device)[None, :]
        s = s.masked_fill(cols > rows + (sk - sq), float("-inf"))
    return torch.softmax(s, -1) @ v


@unittest.skipUnless(HAVE_GPU, "needs torch with a CUDA GPU")
class BindingOnGpu(unittest.TestCase):
    def test_quantize_rows_bit_exact(self):
        kernel = turbo.Kernel("quantize_rows", "block_rows=64", head_dim=128)
        x = torch.randn(1000, 128, device="cuda", dtype=torch.float16) * 3
        x[7] = 0
        q, scales = kernel.quantize_rows(x)
        torch.cuda.synchronize()
        xf = x.float().cpu()
        amax = xf.abs().amax(dim=1)
        # Tensor-by-tensor division is IEEE division; torch computes
        # `scalar / tensor` (and may compute `tensor / scalar`) through a
        # reciprocal, which rounds differently from the kernel.
        qmax = torch.full_like(amax, 127.0)
        expected_scales = amax / qmax
        inverse = torch.where(amax > 0, qmax / amax, torch.zeros_like(amax))
        expected = torch.clamp(torch.round(xf * inverse[:, None]), -127, 127).to(torch.int8)
        self.assertTrue(torch.equal(q.cpu(), expected))
        self.assertTrue(torch.equal(scales.cpu(), expected_scales))

    def test_prefill_against_float64(self):
        for causal in (False, True):
            for (b, hq, hkv, s, d) in ((2, 8, 2, 300, 128), (1, 4, 4, 257, 64)):
                plan = turbo.Plan(q_heads=hq, kv_heads=hkv, head_dim=d, dtype=torch.float16,
                                  causal=causal)
                q = torch.randn(b, hq, s, d, device="cuda", dtype=torch.float16)
                k = torch.randn(b, hkv, s, d, device="cuda", dtype=torch.float16)
                v = torch.randn(b, hkv, s, d, device="cuda", dtype=torch.float16)
                out = plan.prefill(q, k, v)
                ref = exact_attention(q, k, v, causal)
                rel = ((out.double() - ref).norm() / ref.norm()).item()
                self.assertLess(rel, 2.5e-2, f"causal={causal} shape={(b, hq, hkv, s, d)}")

    def test_prefill_in_steps(self):
        # K/V quantized once into a kept workspace, attention run on it twice
        # (new queries the second time): the same bits as the one-call path.
        plan = turbo.Plan(q_heads=8, kv_heads=2, head_dim=128, dtype=torch.float16)
        q, q2 = (torch.randn(1, 8, 500, 128, device="cuda", dtype=torch.float16) for _ in range(2))
        k, v = (torch.randn(1, 2, 500, 128, device="cuda", dtype=torch.float16) for _ in range(2))
        workspace = plan.prefill_workspace(q, k, v)
        self.assertIsNotNone(workspace)
        plan.prefill(q, k, v, steps="quantize_kv", workspace=workspace)
        for queries in (q, q2):
            stepped = plan.prefill(queries, k, v, steps="attention", workspace=workspace)
            self.assertTrue(torch.equal(stepped, plan.prefill(queries, k, v)))
        with self.assertRaises(turbo.TurboError):
            plan.prefill(q, k, v, steps="attention")  # no workspace
        with self.assertRaises(turbo.TurboError):
            plan.prefill(q, k, v, steps="everything", workspace=workspace)

    def test_prefill_takes_strided_views(self):
        plan = turbo.Plan(q_heads=4, kv_heads=4, head_dim=64, dtype=torch.bfloat16)
        # [B, S, H, D] storage seen as [B, H, S, D]: strides, not copies.
        q, k, v = (torch.randn(2, 200, 4, 64, device="cuda", dtype=torch.bfloat16).transpose(1, 2)
                   for _ in range(3))
        out = plan.prefill(q, k, v)
        ref = exact_attention(q, k, v, False)
        self.assertLess(((out.double() - ref).norm() / ref.norm()).item(), 2.5e-2)

    def test_prefill_varlen_equals_padded_per_sequence(self):
        # Packed sequences of different lengths: each one's output equals the
        # padded form run on that sequence alone (the same arithmetic, bits).
        for causal in (False, True):
            plan = turbo.Plan(q_heads=8, kv_heads=2, head_dim=128, dtype=torch.float16,
                              causal=causal)
            lengths = [300, 1, 129, 64]
            cu = torch.tensor([0] + list(torch.tensor(lengths).cumsum(0)), dtype=torch.int32,
                              device="cuda")
            total = sum(lengths)
            q = torch.randn(total, 8, 128, device="cuda", dtype=torch.float16)
            k, v = (torch.randn(total, 2, 128, device="cuda", dtype=torch.float16)
                    for _ in range(2))
            out = plan.prefill_varlen(q, k, v, cu, cu, max(lengths), max(lengths))
            for b, length in enumerate(lengths):
                start = int(cu[b])
                piece = [t[start:start + length].transpose(0, 1)[None] for t in (q, k, v)]
                alone = plan.prefill(*piece)[0].transpose(0, 1)
                self.assertTrue(torch.equal(out[start:start + length], alone),
                                f"causal={causal} sequence {b} (length {length})")
                ref = exact_attention(*piece, causal)[0].transpose(0, 1)
                rel = ((out[start:start + length].double() - ref).norm() / ref.norm()).item()
                self.assertLess(rel, 2.5e-2)
        with self.assertRaisesRegex(turbo.TurboError, "batch \\+ 1"):
            plan.prefill_varlen(q, k, v, cu, cu[:2], 300, 300)
        # check=True (the default) refuses offsets that do not fit the tensors.
        bad = (("decreases", [0, 300, 200, 430, total], 400),
               ("from 0 to", [0, 300, 301, 430, total - 1], 400),
               ("more than the max_seqlen", [0, 300, 301, 430, total], 200))
        for message, offsets, longest in bad:
            wrong = torch.tensor(offsets, dtype=torch.int32, device="cuda")
            with self.assertRaisesRegex(turbo.TurboError, message):
                plan.prefill_varlen(q, k, v, wrong, cu, longest, 300)
        # Unchecked, offsets far outside the tensors are clamped on the device:
        # no fault, and the launch and the sync succeed.
        wild = torch.tensor([-1000, 1 << 30, 5, -7, (1 << 31) - 1], dtype=torch.int32, device="cuda")
        plan.prefill_varlen(q, k, v, wild, wild, 300, 300, check=False)
        torch.cuda.synchronize()

    def test_int8_q_matches_the_fused_quantization(self):
        # Q quantized once (quantize_q) and attention on the INT8 Q: the same
        # bits as the kernel that quantizes Q itself.
        fused = turbo.Plan(q_heads=8, kv_heads=2, head_dim=128, dtype=torch.float16)
        plan = turbo.Plan(q_heads=8, kv_heads=2, head_dim=128, dtype=torch.float16,
                          config="q_int8=1")
        q = torch.randn(2, 8, 300, 128, device="cuda", dtype=torch.float16)
        k, v = (torch.randn(2, 2, 300, 128, device="cuda", dtype=torch.float16)
                for _ in range(2))
        q8, q_scale = plan.quantize_q(q)
        self.assertEqual(q8.dtype, torch.int8)
        amax = q.float().abs().amax(-1)
        self.assertTrue(torch.allclose(q_scale, amax / 127))
        out = plan.prefill(None, k, v, q8=q8, q_scale=q_scale)
        self.assertTrue(torch.equal(out, fused.prefill(q, k, v)))
        with self.assertRaisesRegex(turbo.TurboError, "go together"):
            plan.prefill(None, k, v, q8=q8)
        with self.assertRaisesRegex(turbo.TurboError, "shaped like q"):
            plan.prefill(q, k, v, q8=q8[:, :, :200], q_scale=q_scale[:, :, :200])
        with self.assertRaisesRegex(turbo.TurboError, "q_int8=1"):
            fused.prefill(q8, k, v)

    def test_log_sum_exp_against_float64(self):
        # The default K smoothing shifts every score of a row by
        # q . mean(K): the lse must carry it (a constant offset on K makes
        # that shift large).
        for causal in (False, True):
            b, hq, hkv, s, d = 2, 4, 2, 200, 128
            plan = turbo.Plan(q_heads=hq, kv_heads=hkv, head_dim=d, dtype=torch.float16,
                              causal=causal, config="write_lse=1")
            q = torch.randn(b, hq, s, d, device="cuda", dtype=torch.float16)
            k = (torch.randn(b, hkv, s, d, device="cuda") + 2.0).to(torch.float16)
            v = torch.randn(b, hkv, s, d, device="cuda", dtype=torch.float16)
            lse = torch.full((b, hq, s), float("nan"), device="cuda", dtype=torch.float32)
            plan.prefill(q, k, v, lse=lse)
            scores = (q.double() @ k.double().repeat_interleave(hq // hkv, dim=1)
                      .transpose(-1, -2)) / d ** 0.5
            if causal:
                rows = torch.arange(s, device="cuda")[:, None]
                cols = torch.arange(s, device="cuda")[None, :]
                scores = scores.masked_fill(cols > rows, float("-inf"))
            exact = torch.logsumexp(scores, -1)
            error = (lse.double() - exact).abs()
            # INT8 Q and K cost a few hundredths of a nat (Q's rounding
            # enters through the shift too); the shift itself is nats.
            self.assertLess(error.max().item(), 0.2, f"causal={causal}")
            self.assertLess(error.mean().item(), 0.05, f"causal={causal}")
        # lse goes with write_lse=1, both ways.
        with self.assertRaisesRegex(turbo.TurboError, "pass lse"):
            plan.prefill(q, k, v)
        plain = turbo.Plan(q_heads=hq, kv_heads=hkv, head_dim=d, dtype=torch.float16)
        with self.assertRaisesRegex(turbo.TurboError, "write_lse=1"):
            plain.prefill(q, k, v, lse=lse)
        with self.assertRaisesRegex(turbo.TurboError, "shape"):
            plan.prefill(q, k, v, lse=lse[:, :, :100])

    def test_bad_tensors_are_refused_before_launch(self):
        plan = turbo.Plan(q_heads=4, kv_heads=4, head_dim=64, dtype=torch.float16)
        good = torch.randn(1, 4, 16, 64, device="cuda", dtype=torch.float16)
        with self.assertRaisesRegex(turbo.TurboError, "dtype"):
            plan.prefill(good.to(torch.bfloat16), good, good)
        with self.assertRaisesRegex(turbo.TurboError, "must be on cuda"):
            plan.prefill(good.cpu(), good, good)
        with self.assertRaisesRegex(turbo.TurboError, "contiguous"):
            plan.prefill(good.transpose(2, 3), good, good)
        with self.assertRaisesRegex(turbo.TurboError, "head dim"):
            plan.prefill(good[..., :32], good[..., :32], good[..., :32])
        with self.assertRaisesRegex(turbo.TurboError, "multiple of kv-heads"):
            plan.prefill(torch.randn(1, 3, 16, 64, device="cuda", dtype=torch.float16), good, good)
        with self.assertRaisesRegex(turbo.TurboError, "multiples of 8"):
            odd = torch.randn(1, 4, 16, 68, device="cuda", dtype=torch.float16)[..., :64]
            plan.prefill(odd, good, good)


if __name__ == "__main__":
    unittest.main()
