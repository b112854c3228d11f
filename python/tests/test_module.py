"""Tests of the hyla Python wrapper that need no GPU, torch or numpy.

Run from the repository: HYLA_RUNTIME_LIB=<build>/lib/libhyla_runtime.so
HYLA_TEST_MODULES=<build>/runtime/test/modules python3 -m unittest discover
-s python/tests (CTest does this: ctest -R hyla-python).
"""

import os
import pathlib
import sys
import unittest

# Before anything loads the CUDA driver: make prepare() find none, so the
# no-GPU behaviour is tested on every machine.
os.environ["HYLA_LIBCUDA"] = "/nonexistent/libcuda.so.1"

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import hyla  # noqa: E402


def module_path(name):
    directory = os.environ.get("HYLA_TEST_MODULES")
    if not directory:
        raise RuntimeError("set HYLA_TEST_MODULES to the directory of the "
                           "test modules (<build>/runtime/test/modules)")
    return os.path.join(directory, name)


class InspectionTest(unittest.TestCase):
    def setUp(self):
        self.module = hyla.Module(module_path("lm.hyla"))

    def tearDown(self):
        self.module.close()

    def test_properties(self):
        m = self.module
        self.assertEqual(m.functions, ["prefill", "decode"])
        self.assertEqual(m.target, "sm_90a")
        self.assertEqual(m.producer, "hylac 0.1.0 (test)")
        self.assertEqual(m.metadata["vocab_size"], "100")
        self.assertEqual(m.symbols("prefill"), ["batch", "tokens"])
        self.assertEqual(m.symbols(1), ["batch"])
        names = [name for name, _ in m.weights]
        self.assertEqual(names, ["embed_tokens", "norm.weight", "lm_head"])
        self.assertEqual(m.weights[2][1], hyla.TensorSpec((16, 100), "bf16"))

    def test_describe(self):
        text = self.module.describe()
        self.assertIn("target:   sm_90a", text)
        self.assertIn("prefill(batch, tokens): 4 launches", text)
        self.assertIn("input 0:  i32[batch, tokens]", text)
        self.assertIn("output 0: bf16[batch, tokens, 100]", text)
        self.assertIn("weights: 3 (6432 bytes)", text)

    def test_shapes(self):
        m = self.module
        inputs = m.input_shapes("prefill", batch=2, tokens=3)
        self.assertEqual(inputs, [hyla.TensorSpec((2, 3), "i32"),
                                  hyla.TensorSpec((2, 2, 16), "bf16")])
        outputs = m.output_shapes("prefill", *inputs)
        self.assertEqual(outputs, [hyla.TensorSpec((2, 3, 100), "bf16"),
                                   hyla.TensorSpec((2, 2, 16), "bf16")])
        with self.assertRaises(hyla.HylaError) as caught:
            m.output_shapes("prefill", ((2, 3), "i32"), ((3, 2, 16), "bf16"))
        self.assertIn("input 1 dim 0 is 3 but the function expects 2",
                      str(caught.exception))
        self.assertEqual(caught.exception.status_name, "HYLA_ERROR_SHAPE")
        with self.assertRaises(ValueError):
            m.input_shapes("prefill", batch=2)
        with self.assertRaises(hyla.HylaError):
            m.input_shapes("nope", batch=2)

    def test_prepare_without_gpu(self):
        with self.assertRaises(hyla.HylaError) as caught:
            self.module.prepare(0)
        message = str(caught.exception)
        self.assertIn("no CUDA driver", message)
        self.assertIn("cannot run hyla modules", message)
        self.assertEqual(caught.exception.status_name, "HYLA_ERROR_NO_GPU")

    def test_load_safetensors_needs_prepare(self):
        # The loader is tested on the mock driver (ExecutionTest); here the
        # wrapper's call reaches it and reports the missing prepare().
        with self.assertRaises(hyla.HylaError) as caught:
            self.module.load_safetensors(["a.safetensors", "b.safetensors"])
        self.assertIn("hyla_module_load_safetensors", str(caught.exception))
        self.assertIn("hyla_module_prepare", str(caught.exception))

    def test_closed_module(self):
        self.module.close()
        with self.assertRaises(hyla.HylaError):
            self.module.functions
        self.module.close()  # twice is fine


class LoadErrorTest(unittest.TestCase):
    def test_truncated(self):
        with self.assertRaises(hyla.HylaError) as caught:
            hyla.Module(module_path("truncated.hyla"))
        self.assertIn("corrupted or truncated module", str(caught.exception))
        self.assertEqual(caught.exception.status_name, "HYLA_ERROR_BAD_MODULE")

    def test_missing_file(self):
        with self.assertRaises(hyla.HylaError) as caught:
            hyla.Module("/nonexistent/model.hyla")
        self.assertIn("/nonexistent/model.hyla", str(caught.exception))
        self.assertEqual(caught.exception.status_name, "HYLA_ERROR_IO")

    def test_context_manager(self):
        with hyla.Module(module_path("elementwise.hyla")) as m:
            self.assertEqual(m.functions, ["forward", "read_weights"])


class InPlaceTest(unittest.TestCase):
    """An output that is an input updated in place (decode caches)."""

    def test_tied_inputs(self):
        with hyla.Module(module_path("in_place.hyla")) as m:
            self.assertEqual(m.tied_inputs("double_in_place"), [0])
            self.assertIn("output 0: f32[n] (input 0, updated in place)",
                          m.describe())
        with hyla.Module(module_path("lm.hyla")) as m:
            self.assertEqual(m.tied_inputs("prefill"), [-1, -1])


class ValueCheckTest(unittest.TestCase):
    """The integer inputs the runtime reads back and checks before a call."""

    def test_value_checks(self):
        with hyla.Module(module_path("value_checks.hyla")) as m:
            text = m.describe()
            self.assertIn("values 0: input 1: values in [0, 4), distinct "
                          "(slots)", text)
            self.assertIn("values 1: input 2: offsets from 0 to n * 2, "
                          "steps at most 3 (offsets)", text)
            m.set_value_checks(False)  # needs no GPU
            m.set_value_checks(True)
        with hyla.Module(module_path("lm.hyla")) as m:
            self.assertNotIn("values 0", m.describe())


if __name__ == "__main__":
    unittest.main()
