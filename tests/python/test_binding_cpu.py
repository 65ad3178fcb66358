"""The Python binding without a GPU (CI): compiling, errors, no driver.

Run with TURBO_LIBRARY=<build>/lib/libturbo.so.0 and TURBO_LIBCUDA pointing
at a path that does not exist (ctest sets both)."""
import os
import unittest

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

    def test_no_driver(self):
        self.assertTrue(os.environ.get("TURBO_LIBCUDA"))
        with self.assertRaises(turbo.TurboError) as caught:
            turbo.Context(device=0)
        self.assertEqual(caught.exception.status, 2)
        self.assertIn("no CUDA driver", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
