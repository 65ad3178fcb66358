"""turbo-tune calibrate against python3 -m turbo.calibrate: the same .npy
files (float16, float32, float64; one layer and several) give the same JSON,
and bad files are refused with the reason.

Run with TURBO_LIBRARY=<build>/lib/libturbo.so.0 and TURBO_TUNE=<build>/bin/
turbo-tune (ctest sets both)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

TUNE = os.environ.get("TURBO_TUNE", "turbo-tune")


class CalibrateCommand(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        rng = np.random.default_rng(11)
        # Heads of unequal size and spread, so the ranking is not a tie.
        self.k = rng.standard_normal((4, 192, 64)) * np.array([1.0, 0.1, 2.0, 0.5])[:, None, None]
        self.v = rng.standard_normal((4, 192, 64))
        self.q = rng.standard_normal((8, 192, 64))

    def path(self, name, array):
        path = os.path.join(self.dir.name, name)
        np.save(path, array)
        return path

    def both(self, *args):
        cli = subprocess.run([TUNE, "calibrate", *args], capture_output=True, text=True)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        py = subprocess.run([sys.executable, "-m", "turbo.calibrate", *args],
                            capture_output=True, text=True)
        self.assertEqual(py.returncode, 0, py.stderr)
        return json.loads(cli.stdout), json.loads(py.stdout)

    def test_same_answer_as_the_python_tool(self):
        q = self.path("q.npy", self.q.astype(np.float32))
        k = self.path("k.npy", self.k.astype(np.float16))
        v = self.path("v.npy", self.v.astype(np.float64))
        cli, py = self.both(q, k, v)
        self.assertEqual(cli["bits"], py["bits"])
        self.assertEqual(sorted(cli["bits"]), [2, 2, 4, 4])
        np.testing.assert_allclose(cli["scores"], py["scores"], rtol=1e-12)
        self.assertEqual(cli["tokens"], 192)
        cli, py = self.both(q, k, v, "--fraction-2bit", "0.25", "--sink-pages", "0",
                            "--page-size", "32")
        self.assertEqual(cli["bits"], py["bits"])
        self.assertEqual(sorted(cli["bits"]), [2, 4, 4, 4])
        cli, py = self.both("--method", "priority", k, v)
        self.assertEqual(cli, py)
        # Under a budget: the same choice, and the predicted error within it.
        for budget in ("0.05", "0.2", "0.5"):
            cli, py = self.both(q, k, v, "--max-rel-err", budget)
            self.assertEqual(cli["bits"], py["bits"])
            np.testing.assert_allclose(cli["scores_4bit"], py["scores_4bit"], rtol=1e-12)
            self.assertAlmostEqual(cli["predicted_error"], py["predicted_error"], places=12)
            if 2 in cli["bits"]:
                self.assertLessEqual(cli["predicted_error"], float(budget))
            # The predicted error is the root of the squared losses at the widths chosen.
            squares = sum((a if b == 2 else f) ** 2 for a, f, b in
                          zip(cli["scores"], cli["scores_4bit"], cli["bits"]))
            self.assertAlmostEqual(cli["predicted_error"], squares ** 0.5, places=12)
        loose = self.both(q, k, v, "--max-rel-err", "10")[0]
        self.assertEqual(loose["bits"], [2, 2, 2, 2])

    def test_layers_ranked_together(self):
        q = self.path("q.npy", np.stack([self.q, 0.5 * self.q]).astype(np.float32))
        k = self.path("k.npy", np.stack([self.k, self.k[::-1] * 3]).astype(np.float32))
        v = self.path("v.npy", np.stack([self.v, self.v]).astype(np.float32))
        cli, py = self.both(q, k, v)
        self.assertEqual(cli["bits"], py["bits"])
        self.assertEqual(len(cli["bits"]), 2)
        self.assertEqual(sum(b == 2 for layer in cli["bits"] for b in layer), 4)

    def test_bad_files_are_refused_with_the_reason(self):
        q = self.path("q.npy", self.q.astype(np.float32))
        k = self.path("k.npy", self.k.astype(np.float32))
        v = self.path("v.npy", self.v.astype(np.float32))
        ints = self.path("ints.npy", self.k.astype(np.int32))
        flat = self.path("flat.npy", self.k.reshape(-1).astype(np.float32))
        fortran = self.path("fortran.npy", np.asfortranarray(self.k.astype(np.float32)))
        nan = self.k.astype(np.float32)
        nan[1, 2, 3] = np.nan
        nan = self.path("nan.npy", nan)
        short = self.path("short.npy", self.v[:, :100].astype(np.float32))
        garbage = os.path.join(self.dir.name, "garbage.npy")
        with open(garbage, "wb") as f:
            f.write(b"\x93NUMPY\x01\x00\xff")
        for args, why in (([q, ints, v], "element type '<i4'"),
                          ([q, flat, v], "must be shaped"),
                          ([q, fortran, v], "Fortran order"),
                          ([q, nan, v], "not finite"),
                          ([q, k, short], "differ in shape"),
                          ([q, garbage, v], "not a .npy file"),
                          ([q, os.path.join(self.dir.name, "missing.npy"), v], "cannot open"),
                          ([k, v], "needs sample queries"),
                          ([q, k, v, "--fraction-2bit", "2"], "--fraction-2bit"),
                          ([q, k, v, "--max-rel-err", "-1"], "--max-rel-err"),
                          (["--method=priority", k, v, "--max-rel-err", "0.1"],
                           "--max-rel-err needs the measured calibration")):
            run = subprocess.run([TUNE, "calibrate", *args], capture_output=True, text=True)
            self.assertNotEqual(run.returncode, 0, args)
            self.assertIn(why, run.stderr, args)


class PrefillSampleInputs(unittest.TestCase):
    """turbo-tune --sample (prefill's accuracy inputs from .npy files): what
    cannot be used is refused before anything runs."""

    def test_refused_with_the_reason(self):
        with tempfile.TemporaryDirectory() as dir:
            rng = np.random.default_rng(3)

            def save(name, shape):
                path = os.path.join(dir, name)
                np.save(path, rng.standard_normal(shape).astype(np.float32))
                return path

            q, k, v = save("q.npy", (8, 64, 128)), save("k.npy", (2, 64, 128)), save("v.npy", (2, 64, 128))
            narrow = save("narrow.npy", (2, 64, 64))
            odd = save("odd.npy", (3, 64, 128))
            empty = save("empty.npy", (0, 64, 128))
            huge = os.path.join(dir, "huge.npy")
            np.save(huge, np.full((2, 64, 128), 1e6, np.float32))
            for args, why in (
                    (["--sample=" + ",".join([q, k])], "--sample takes Q.npy,K.npy,V.npy"),
                    (["--sample=" + ",".join([q, narrow, v])], "head_dim 128"),
                    (["--sample=" + ",".join([q, odd, odd])], "multiple of K's heads"),
                    (["--sample=" + ",".join([q, k, narrow])], "head_dim 128"),
                    (["--sample=" + ",".join([q, empty, empty])], "must not be empty"),
                    (["--sample=" + ",".join([q, k, huge])], "beyond float16's range"),
                    (["--sample=" + ",".join([q, k, os.path.join(dir, "none.npy")])],
                     "cannot open")):
                run = subprocess.run([TUNE, "--kernel=attention_prefill", "--dry-run", *args],
                                     capture_output=True, text=True)
                self.assertNotEqual(run.returncode, 0, args)
                self.assertIn(why, run.stderr, args)
            run = subprocess.run([TUNE, "--kernel=attention_decode", "--sample=" + ",".join([q, k, v])],
                                 capture_output=True, text=True)
            self.assertNotEqual(run.returncode, 0)
            self.assertIn("--sample is for --kernel=attention_prefill", run.stderr)


if __name__ == "__main__":
    unittest.main()
