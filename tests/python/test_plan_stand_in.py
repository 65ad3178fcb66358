"""Plans from Python over a libcuda stand-in (no GPU): the plan descriptor
and info structures as the C API lays them out, and the tuning database's
prefill settings reaching a plan made with `seq`.

Run with TURBO_LIBRARY=<build>/lib/libturbo.so.0 and TURBO_LIBCUDA at the
stand-in (tests/driver; ctest sets both)."""
import ctypes
import json
import os
import tempfile
import unittest

import turbo


class PlanOverStandIn(unittest.TestCase):
    def setUp(self):
        lib = turbo._library()
        lib.turbo_codegen_version.restype = ctypes.c_char_p
        self.codegen = lib.turbo_codegen_version().decode()
        self.db = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        self.addCleanup(os.remove, self.db.name)
        self.saved = os.environ.get("TURBO_TUNING_DB")
        os.environ["TURBO_TUNING_DB"] = self.db.name

    def tearDown(self):
        if self.saved is None:
            os.environ.pop("TURBO_TUNING_DB", None)
        else:
            os.environ["TURBO_TUNING_DB"] = self.saved

    def write_record(self, config):
        record = {"template": "attention_prefill",
                  "head": "q_heads=32,kv_heads=8,head_dim=128,dtype=f16,causal=0",
                  "shape": "seq=4096", "gpu": "Stand-in GPU", "target": "sm_90a",
                  "codegen": self.codegen, "config": config, "us": 900.0,
                  "default_us": 1000.0, "date": "2026-12-07"}
        json.dump({"format": "turbo-tuning", "version": 1, "records": [record]}, self.db)
        self.db.close()

    def test_seq_takes_the_tuned_settings(self):
        self.write_record("block_m=64,block_n=64,num_warps=4,min_blocks_per_sm=3,pv=1,wgmma=1")
        tuned = turbo.Plan(preset="llama3-8b", seq=4096).info
        self.assertEqual(tuned["prefill_config_source"], "tuning database (seq=4096)")
        self.assertIn(",block_n=64,", "," + tuned["prefill_config"] + ",")
        self.assertIn(",pv=1,", "," + tuned["prefill_config"] + ",")
        plain = turbo.Plan(preset="llama3-8b").info
        self.assertEqual(plain["prefill_config_source"], "defaults")
        self.assertIn(",block_n=128,", "," + plain["prefill_config"] + ",")
        import numpy as np
        self.assertEqual(turbo.Plan(preset="llama3-8b", seq=np.int64(4096)).info[
            "prefill_config_source"], "tuning database (seq=4096)")
        pinned = turbo.Plan(preset="llama3-8b", seq=4096, config="pv=0").info
        self.assertEqual(pinned["prefill_config_source"], "caller")
        self.assertIn(",pv=0,", "," + pinned["prefill_config"] + ",")

    def test_bad_seq_is_refused(self):
        self.write_record("pv=1")
        for bad in (0, -5, 4096.0, "4096", True):
            with self.assertRaises(ValueError):
                turbo.Plan(preset="llama3-8b", seq=bad)


if __name__ == "__main__":
    unittest.main()
